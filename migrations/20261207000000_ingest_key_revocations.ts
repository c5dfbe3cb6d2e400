import type { Knex } from 'knex';

/**
 * API processes keep the keys they have seen for minutes and ask every few seconds which keys were
 * revoked lately (IngestService); this index answers that from the few revoked keys, whatever the
 * number of orgs.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS ingest_keys_revoked_at_index ON ingest_keys (revoked_at) WHERE revoked_at IS NOT NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS ingest_keys_revoked_at_index');
}
