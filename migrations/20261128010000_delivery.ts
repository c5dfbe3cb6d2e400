import type { Knex } from 'knex';

/** Ingestion keys, delivery logs (one row per request), dead letters, per-integration counters. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('ingest_keys', (t) => {
    t.uuid('id').primary();
    t.text('org_id').notNullable();
    t.text('name').notNullable();
    t.text('key_prefix').notNullable();
    t.text('key_hash').notNullable().unique();
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.index(['org_id', 'created_at', 'id']);
  });

  await knex.schema.createTable('delivery_logs', (t) => {
    t.bigIncrements('id').primary();
    t.text('org_id').notNullable();
    t.uuid('integration_id').notNullable();
    t.text('endpoint').notNullable();
    t.text('host').notNullable();
    t.integer('event_count').notNullable();
    t.integer('failed_count').notNullable().defaultTo(0);
    t.integer('http_status');
    t.text('status').notNullable();
    t.text('response_body');
    t.text('error');
    t.integer('attempt').notNullable();
    t.integer('duration_ms').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['integration_id', 'created_at', 'id']);
    t.index(['created_at']);
  });

  await knex.schema.createTable('dead_letters', (t) => {
    t.uuid('id').primary();
    t.text('org_id').notNullable();
    t.uuid('integration_id').notNullable();
    t.jsonb('event').notNullable();
    t.text('reason').notNullable();
    t.integer('attempts').notNullable();
    t.text('status').notNullable().defaultTo('dead');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('replayed_at', { useTz: true });
    t.index(['integration_id', 'status', 'created_at', 'id']);
  });

  await knex.schema.createTable('delivery_counters', (t) => {
    t.uuid('integration_id').primary();
    t.text('org_id').notNullable();
    t.bigInteger('delivered').notNullable().defaultTo(0);
    t.bigInteger('failed').notNullable().defaultTo(0);
    t.bigInteger('dead_lettered').notNullable().defaultTo(0);
    t.bigInteger('skipped').notNullable().defaultTo(0);
    t.timestamp('last_success_at', { useTz: true });
    t.timestamp('last_error_at', { useTz: true });
    t.text('last_error');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('delivery_counters');
  await knex.schema.dropTable('dead_letters');
  await knex.schema.dropTable('delivery_logs');
  await knex.schema.dropTable('ingest_keys');
}
