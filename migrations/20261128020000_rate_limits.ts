import type { Knex } from 'knex';

/** The table rate-limiter-flexible's PostgreSQL store uses (shared by every API process). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (t) => {
    t.string('key', 255).primary();
    t.integer('points').notNullable().defaultTo(0);
    t.bigInteger('expire');
  });
  await knex.schema.alterTable('integration_revisions', (t) => {
    t.index(['integration_id', 'created_at', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('integration_revisions', (t) => {
    t.dropIndex(['integration_id', 'created_at', 'id']);
  });
  await knex.schema.dropTable('rate_limits');
}
