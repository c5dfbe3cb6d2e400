import type { Knex } from 'knex';

/** While Mixpanel fails for an integration (its circuit breaker is open): since when, and why. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('integrations', (t) => {
    t.timestamp('degraded_since', { useTz: true });
    t.text('degraded_reason');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('integrations', (t) => {
    t.dropColumns('degraded_since', 'degraded_reason');
  });
}
