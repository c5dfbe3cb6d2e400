import type { Knex } from 'knex';
import { SecretDecryptionError, secretContext, type SecretBox } from './secret-box.js';

export interface RotationReport {
  rotated: number;
  /** Rows sealed under a key id that is not configured: left as they are. */
  unknownKey: number;
  /** Rows that did not open with their key (tampered or wrong key material): left as they are. */
  failed: number;
  alreadyCurrent: number;
}

/**
 * Re-encrypts every stored secret under the current key, a batch per transaction (rows locked with
 * SKIP LOCKED), so it can run beside live servers and be stopped and started again at any point.
 */
export async function rotateSecrets(knex: Knex, box: SecretBox, batchSize = 100): Promise<RotationReport> {
  const report: RotationReport = { rotated: 0, unknownKey: 0, failed: 0, alreadyCurrent: 0 };
  const skip = new Set<string>();
  for (;;) {
    const done = await knex.transaction(async (trx) => {
      const rows = await trx('integration_secrets')
        .whereNot('key_id', box.currentKeyId)
        .modify((q) => {
          if (skip.size > 0) q.whereRaw(`(integration_id::text || '/' || field) <> ALL(?)`, [[...skip]]);
        })
        .orderBy(['integration_id', 'field'])
        .limit(batchSize)
        .forUpdate()
        .skipLocked();
      for (const row of rows) {
        const id = `${row.integration_id}/${row.field}`;
        if (!box.knows(row.key_id)) {
          report.unknownKey++;
          skip.add(id);
          continue;
        }
        const ctx = secretContext(row.org_id, row.integration_id, row.field);
        try {
          const plain = box.open({ keyId: row.key_id, nonce: row.nonce, ciphertext: row.ciphertext, tag: row.tag }, ctx);
          const sealed = box.seal(plain, ctx);
          await trx('integration_secrets')
            .where({ integration_id: row.integration_id, field: row.field })
            .update({ key_id: sealed.keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext, tag: sealed.tag, updated_at: trx.fn.now() });
          report.rotated++;
        } catch (err) {
          if (!(err instanceof SecretDecryptionError)) throw err;
          report.failed++;
          skip.add(id);
        }
      }
      return rows.length === 0;
    });
    if (done) break;
  }
  const current = await knex('integration_secrets').where('key_id', box.currentKeyId).count({ n: '*' }).first();
  report.alreadyCurrent = Number(current?.n ?? 0) - report.rotated;
  return report;
}
