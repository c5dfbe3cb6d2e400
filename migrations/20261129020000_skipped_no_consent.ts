import type { Knex } from 'knex';

/** Events skipped because the consent category that gates the integration was not given (also in `skipped`). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('delivery_counters', (t) => {
    t.bigInteger('skipped_no_consent').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('delivery_counters', (t) => {
    t.dropColumn('skipped_no_consent');
  });
}
