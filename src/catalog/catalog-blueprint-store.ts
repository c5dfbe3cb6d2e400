import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Blueprint } from '../blueprints/blueprint.js';
import type { CatalogEntry } from './catalog-entry.js';

/** Variant blueprints live in PostgreSQL so installs copy a stored document, not code. */
export class CatalogBlueprintStore {
  constructor(private readonly knex: Knex) {}

  /** Idempotent: inserts new variants, updates changed ones, leaves equal ones untouched. */
  async seed(entries: readonly CatalogEntry[]): Promise<number> {
    let changed = 0;
    for (const entry of entries) {
      for (const [variant, document] of Object.entries(entry.blueprints)) {
        const json = JSON.stringify(document);
        const hash = createHash('sha256').update(json).digest('hex');
        const result = await this.knex.raw(
          `INSERT INTO catalog_blueprints (vendor, variant, content_hash, document, updated_at)
           VALUES (?, ?, ?, ?::jsonb, now())
           ON CONFLICT (vendor, variant) DO UPDATE
             SET content_hash = EXCLUDED.content_hash, document = EXCLUDED.document, updated_at = now()
             WHERE catalog_blueprints.content_hash <> EXCLUDED.content_hash`,
          [entry.key, variant, hash, json],
        );
        changed += result.rowCount ?? 0;
      }
    }
    return changed;
  }

  async get(vendor: string, variant: string, trx: Knex | Knex.Transaction = this.knex): Promise<Blueprint | undefined> {
    const row = await trx('catalog_blueprints').where({ vendor, variant }).first('document');
    return row?.document as Blueprint | undefined;
  }
}
