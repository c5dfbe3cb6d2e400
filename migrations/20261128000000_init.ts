import type { Knex } from 'knex';

/** Catalog blueprints, integrations with immutable revisions, encrypted secrets, audit log. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('catalog_blueprints', (t) => {
    t.text('vendor').notNullable();
    t.text('variant').notNullable();
    t.text('content_hash').notNullable();
    t.jsonb('document').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['vendor', 'variant']);
  });

  await knex.schema.createTable('integrations', (t) => {
    t.uuid('id').primary();
    t.text('org_id').notNullable();
    t.text('name').notNullable();
    t.text('vendor').notNullable();
    t.text('variant').notNullable();
    t.text('delivery_mode').notNullable();
    t.boolean('enabled').notNullable().defaultTo(true);
    t.text('status').notNullable().defaultTo('active');
    t.text('status_reason');
    t.integer('current_revision').notNullable();
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('deleted_at', { useTz: true });
    t.index(['org_id', 'created_at', 'id']);
  });
  await knex.raw(
    'CREATE UNIQUE INDEX integrations_org_name_unique ON integrations (org_id, lower(name)) WHERE deleted_at IS NULL',
  );

  await knex.schema.createTable('integration_revisions', (t) => {
    t.uuid('id').primary();
    t.uuid('integration_id').notNullable().references('integrations.id').onDelete('CASCADE');
    t.text('org_id').notNullable();
    t.integer('revision_number').notNullable();
    t.jsonb('config').notNullable();
    t.jsonb('blueprint').notNullable();
    t.text('delivery_mode').notNullable();
    t.text('change_summary').notNullable();
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['integration_id', 'revision_number']);
  });

  await knex.schema.createTable('integration_secrets', (t) => {
    t.uuid('integration_id').notNullable().references('integrations.id').onDelete('CASCADE');
    t.text('org_id').notNullable();
    t.text('field').notNullable();
    t.text('key_id').notNullable();
    t.binary('nonce').notNullable();
    t.binary('ciphertext').notNullable();
    t.binary('tag').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['integration_id', 'field']);
    t.index(['key_id']);
  });

  await knex.schema.createTable('audit_logs', (t) => {
    t.bigIncrements('id').primary();
    t.text('org_id').notNullable();
    t.text('user_id').notNullable();
    t.text('action').notNullable();
    t.text('resource_type').notNullable();
    t.text('resource_id').notNullable();
    t.jsonb('changes').notNullable();
    t.text('ip_address');
    t.timestamp('timestamp', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['org_id', 'timestamp', 'id']);
    t.index(['org_id', 'resource_type', 'resource_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_logs');
  await knex.schema.dropTable('integration_secrets');
  await knex.schema.dropTable('integration_revisions');
  await knex.schema.dropTable('integrations');
  await knex.schema.dropTable('catalog_blueprints');
}
