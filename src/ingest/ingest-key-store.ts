import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { paginate, type Page, type PageRequest } from '../shared/pagination.js';

export interface IngestKey {
  id: string;
  name: string;
  key_prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** Keys are random 32 bytes; only their SHA-256 is stored (enough for a key of that entropy). */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function toKey(r: Record<string, unknown>): IngestKey {
  const iso = (v: unknown) => (v ? (v as Date).toISOString() : null);
  return {
    id: r.id as string,
    name: r.name as string,
    key_prefix: r.key_prefix as string,
    created_at: (r.created_at as Date).toISOString(),
    last_used_at: iso(r.last_used_at),
    revoked_at: iso(r.revoked_at),
  };
}

export class IngestKeyStore {
  constructor(private readonly knex: Knex) {}

  async create(trx: Knex.Transaction, orgId: string, name: string, createdBy: string): Promise<{ key: string; record: IngestKey }> {
    const key = `dk_live_${randomBytes(32).toString('base64url')}`;
    const [row] = await trx('ingest_keys')
      .insert({ id: randomUUID(), org_id: orgId, name, key_prefix: key.slice(0, 12), key_hash: hashKey(key), created_by: createdBy })
      .returning('*');
    return { key, record: toKey(row) };
  }

  list(orgId: string, page: PageRequest): Promise<Page<IngestKey>> {
    return paginate(this.knex('ingest_keys').select('*').where({ org_id: orgId }), page, { time: 'created_at', id: 'id' }, toKey);
  }

  async revoke(trx: Knex.Transaction, orgId: string, id: string): Promise<IngestKey | undefined> {
    const [row] = await trx('ingest_keys').where({ org_id: orgId, id }).whereNull('revoked_at').update({ revoked_at: trx.fn.now() }).returning('*');
    return row && toKey(row);
  }

  /** The org of an active key, by the key's hash, or undefined. */
  async orgOf(keyHash: string): Promise<{ id: string; orgId: string } | undefined> {
    const row = await this.knex('ingest_keys').where({ key_hash: keyHash }).whereNull('revoked_at').first('id', 'org_id');
    return row && { id: row.id, orgId: row.org_id };
  }

  /** Hashes of the keys revoked within the last `seconds` (by the database's clock). */
  async revokedWithin(seconds: number): Promise<string[]> {
    const { rows } = await this.knex.raw(`SELECT key_hash FROM ingest_keys WHERE revoked_at IS NOT NULL AND revoked_at > now() - make_interval(secs => ?)`, [seconds]);
    return (rows as { key_hash: string }[]).map((r) => r.key_hash);
  }

  /** Sets last_used_at of these keys, in one statement. */
  async touchAll(ids: string[]): Promise<void> {
    await this.knex('ingest_keys').whereIn('id', ids).update({ last_used_at: this.knex.fn.now() });
  }
}
