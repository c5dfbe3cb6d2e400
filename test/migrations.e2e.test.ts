import { createKnex } from '../src/db.js';
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
    ]);
    // The old mixed count is kept as items_delivered; the counts by kind start at 0.
    expect(await db.knex('delivery_counters').where(counters).first()).toMatchObject({ items_delivered: 7, events_delivered: 0, profile_updates_delivered: 0 });
    expect(await db.knex('delivery_counters').where(counters).first()).toMatchObject({ skipped_no_consent: 0 });
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

  it('let processes starting together on a fresh database take turns (an API and its workers)', async () => {
    const fresh = await createEmptyDatabase();
    const others = Array.from({ length: 3 }, () => createKnex(fresh.url, 3));
    try {
      await Promise.all([fresh.knex, ...others].map((k) => prepareDatabase(k, fresh.url)));
      const [done, pending] = (await fresh.knex.migrate.list(migrationConfig)) as [unknown[], unknown[]];
      expect([done.length, pending.length]).toEqual([6, 0]);
      expect(Number((await fresh.knex('catalog_blueprints').count({ n: '*' }))[0].n)).toBeGreaterThan(0);
    } finally {
      await Promise.all(others.map((k) => k.destroy()));
      await fresh.drop();
    }
  });
});
