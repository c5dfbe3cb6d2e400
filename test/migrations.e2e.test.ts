import { randomUUID } from 'node:crypto';
import PgBoss10 from 'pg-boss-v10';
import { createKnex } from '../src/db.js';
import { DeliveryQueue, encodeStoredJob, QUEUE } from '../src/delivery/delivery-queue.js';
import { withParsedEvents } from '../src/delivery/delivery-job.js';
import { page, track } from './fixtures/events.js';
import { migrationConfig } from '../src/migrations.js';
import { prepareDatabase } from '../src/services.js';
import { createEmptyDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createEmptyDatabase();
});
afterAll(() => db.drop());

describe('migrations', () => {
  it('go up, keep rows across a later migration going down and up, and come back', async () => {
    await db.knex.migrate.up(migrationConfig); // init only
    await db.knex('integrations').insert({
      id: '00000000-0000-4000-8000-000000000001',
      org_id: 'acme',
      name: 'Kept',
      vendor: 'mixpanel',
      variant: 'default',
      delivery_mode: 'server_side',
      current_revision: 1,
      created_by: 'u',
    });
    await db.knex.migrate.up(migrationConfig); // delivery
    await db.knex.migrate.up(migrationConfig); // rate limits
    const counters = { integration_id: '00000000-0000-4000-8000-000000000001', org_id: 'acme' };
    await db.knex('delivery_counters').insert({ ...counters, delivered: 7 });
    await db.knex.migrate.latest(migrationConfig);
    const [done, pending] = (await db.knex.migrate.list(migrationConfig)) as [{ name: string }[], unknown[]];
    expect(pending).toHaveLength(0);
    expect(done.map((m) => m.name)).toEqual([
      '20261128000000_init',
      '20261128010000_delivery',
      '20261128020000_rate_limits',
      '20261129000000_delivered_by_kind',
      '20261129010000_degraded',
      '20261129020000_skipped_no_consent',
      '20261129030000_shared_delivery_queue',
    ]);
    // The old mixed count is kept as items_delivered; the counts by kind start at 0.
    expect(await db.knex('delivery_counters').where(counters).first()).toMatchObject({ items_delivered: 7, events_delivered: 0, profile_updates_delivered: 0 });
    expect(await db.knex('delivery_counters').where(counters).first()).toMatchObject({ skipped_no_consent: 0 });
    await db.knex.migrate.down(migrationConfig);
    expect(await db.knex.schema.hasTable('delivery_jobs_carried')).toBe(false);
    await db.knex.migrate.down(migrationConfig);
    expect(await db.knex.schema.hasColumn('delivery_counters', 'skipped_no_consent')).toBe(false);
    await db.knex.migrate.down(migrationConfig);
    expect(await db.knex.schema.hasColumn('integrations', 'degraded_since')).toBe(false);
    await db.knex.migrate.down(migrationConfig);
    expect(await db.knex('delivery_counters').where(counters).first()).toMatchObject({ delivered: 7 });
    await db.knex.migrate.down(migrationConfig);
    await db.knex.migrate.down(migrationConfig);
    expect(await db.knex.schema.hasTable('dead_letters')).toBe(false);
    expect(await db.knex('integrations').pluck('name')).toEqual(['Kept']);
    await db.knex.migrate.latest(migrationConfig);
    expect(await db.knex.schema.hasTable('rate_limits')).toBe(true);
    expect(await db.knex('integrations').pluck('name')).toEqual(['Kept']);
  });

  it('carry the jobs of the pg-boss 10 layout (a queue per integration) into the shared pg-boss 12 queue, none lost', async () => {
    const old = await createEmptyDatabase();
    try {
      // The database as the previous version left it: its migrations, and pg-boss 10 with two integrations' queues.
      const all = (await old.knex.migrate.list(migrationConfig))[1] as { file: string }[];
      for (let i = 0; i < all.length - 1; i++) await old.knex.migrate.up(migrationConfig);
      const boss10 = new PgBoss10({ connectionString: old.url, max: 2, schedule: false, supervise: false });
      boss10.on('error', () => {});
      await boss10.start();
      const [a, b] = [randomUUID(), randomUUID()];
      const waiting = [page(), track('Waiting', { n: 1 })];
      const later = new Date(Date.now() + 3600_000);
      for (const id of [a, b]) await boss10.createQueue(`delivery-${id}`);
      await boss10.insert([
        { name: `delivery-${a}`, data: await encodeStoredJob({ orgId: 'acme', integrationId: a, events: waiting, attempt: 0, acceptedAt: 1 }) },
        { name: `delivery-${b}`, data: await encodeStoredJob({ orgId: 'acme', integrationId: b, events: [page()], attempt: 2, acceptedAt: 2 }), startAfter: later },
        { name: `delivery-${b}`, data: await encodeStoredJob({ orgId: 'acme', integrationId: b, events: [page()], attempt: 0, acceptedAt: 3 }) },
      ]);
      const done = await boss10.fetch(`delivery-${b}`);
      await boss10.complete(`delivery-${b}`, done!.map((j) => j.id)); // delivered: not carried
      await boss10.stop({ graceful: false, wait: true });

      await prepareDatabase(old.knex, old.url);
      expect(await old.knex('delivery_jobs_carried').count({ n: '*' })).toEqual([{ n: 2 }]);
      const queue = await DeliveryQueue.start(old.url, old.knex, { expireInSeconds: 60, maintenanceSeconds: 60, poolMax: 2, onError: () => {} });
      try {
        expect(await old.knex('delivery_jobs_carried').count({ n: '*' })).toEqual([{ n: 0 }]);
        const rows = await old.knex.raw(`SELECT group_id, start_after FROM pgboss.job WHERE name = ? ORDER BY group_id`, [QUEUE]);
        expect(rows.rows).toHaveLength(2);
        const [job] = await queue.fetch(10, 10);
        expect(job.data.integrationId).toBe(a);
        expect(withParsedEvents(job.data)).toMatchObject({ orgId: 'acme', integrationId: a, attempt: 0, events: waiting });
        expect((await queue.peek(b)).map((j) => j.attempt)).toEqual([2]); // still waiting for its time
        expect(new Date(rows.rows.find((r: { group_id: string }) => r.group_id === b).start_after).getTime()).toBe(later.getTime());
      } finally {
        await queue.stop();
      }
    } finally {
      await old.drop();
    }
  }, 60000);

  it('let processes starting together on a fresh database take turns (an API and its workers)', async () => {
    const fresh = await createEmptyDatabase();
    const others = Array.from({ length: 3 }, () => createKnex(fresh.url, 3));
    try {
      await Promise.all([fresh.knex, ...others].map((k) => prepareDatabase(k, fresh.url)));
      const [done, pending] = (await fresh.knex.migrate.list(migrationConfig)) as [unknown[], unknown[]];
      expect([done.length, pending.length]).toEqual([7, 0]);
      expect(Number((await fresh.knex('catalog_blueprints').count({ n: '*' }))[0].n)).toBeGreaterThan(0);
    } finally {
      await Promise.all(others.map((k) => k.destroy()));
      await fresh.drop();
    }
  });
});
