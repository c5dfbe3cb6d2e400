import type { Knex } from 'knex';

/**
 * From one pg-boss 10 queue (and partition table) per integration to one shared pg-boss 12 queue with
 * the integration as the job's group. pg-boss 12 cannot migrate a pg-boss 10 schema (it starts from
 * 11's), so the jobs still to deliver are carried over: copied here with their integration, and the old
 * schema removed; the first DeliveryQueue to start installs pg-boss 12 and queues them again in one
 * transaction (DeliveryQueue.carryOver). Active jobs (a worker was delivering them when the service
 * stopped) are due at once; resent events carry the same $insert_id, so Mixpanel keeps one copy.
 * Stop every process of the previous version before upgrading.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('delivery_jobs_carried', (t) => {
    t.bigIncrements('id');
    t.uuid('integration_id').notNullable();
    t.jsonb('data').notNullable();
    t.timestamp('start_after', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  const installed = (await knex.raw(`SELECT to_regclass('pgboss.version') AS t`)).rows[0].t;
  if (!installed) return;
  const version = Number((await knex.raw('SELECT version FROM pgboss.version')).rows[0]?.version ?? 0);
  if (version >= 25) return; // pg-boss 11 or later: pg-boss migrates its own schema
  await knex.raw(
    `INSERT INTO delivery_jobs_carried (integration_id, data, start_after)
     SELECT substring(name from 10)::uuid, data, CASE WHEN state = 'active' THEN now() ELSE start_after END
       FROM pgboss.job
      WHERE name ~ '^delivery-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        AND state IN ('created', 'retry', 'active')
      ORDER BY created_on`,
  );
  await knex.raw('DROP SCHEMA pgboss CASCADE');
}

/** Jobs already queued again stay in the shared queue; pg-boss's own schema is not rolled back. */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('delivery_jobs_carried');
}
