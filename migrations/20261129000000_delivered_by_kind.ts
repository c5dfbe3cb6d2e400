import type { Knex } from 'knex';

/**
 * `delivered` counted Mixpanel objects of every endpoint together (an identify with traits made 2).
 * It becomes `items_delivered`, and four counts say what they mean: canonical events whose every
 * Mixpanel object went through, and Mixpanel events, profile updates and group updates accepted.
 * Counts from before cannot be split: the new ones start at 0.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('delivery_counters', (t) => {
    t.renameColumn('delivered', 'items_delivered');
  });
  await knex.schema.alterTable('delivery_counters', (t) => {
    t.bigInteger('events_delivered').notNullable().defaultTo(0);
    t.bigInteger('mixpanel_events_delivered').notNullable().defaultTo(0);
    t.bigInteger('profile_updates_delivered').notNullable().defaultTo(0);
    t.bigInteger('group_updates_delivered').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('delivery_counters', (t) => {
    t.dropColumns('events_delivered', 'mixpanel_events_delivered', 'profile_updates_delivered', 'group_updates_delivered');
  });
  await knex.schema.alterTable('delivery_counters', (t) => {
    t.renameColumn('items_delivered', 'delivered');
  });
}
