import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DeliveryQueue, JOBS_CHANNEL, QUEUE } from '../src/delivery/delivery-queue.js';
import { page } from './fixtures/events.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
const queues: DeliveryQueue[] = [];
const start = () => DeliveryQueue.start(db.url, db.knex, { expireInSeconds: 60, maintenanceSeconds: 60, poolMax: 4, onError: () => {} });
beforeAll(async () => {
  db = await createTestDatabase();
  // Two processes' worth of queues (their own pg-boss and connections), as an API and a worker.
  for (let i = 0; i < 2; i++) queues.push(await start());
});
afterAll(async () => {
  for (const q of queues) await q.stop();
  await db.drop();
});

const job = (integrationId: string, startAfter?: Date) => ({ data: { orgId: 'acme', integrationId, events: [page()], attempt: 0, acceptedAt: Date.now() }, ...(startAfter ? { startAfter } : {}) });

describe('the shared delivery queue', () => {
  it('takes commit locks in one order whatever the order asked for, so two commits cannot deadlock', async () => {
    // Two integrations, `low` the one whose commit lock comes first (locks are keyed by a hash).
    const ids = [randomUUID(), randomUUID()];
    const { rows } = await db.knex.raw(`SELECT id FROM unnest(?::text[]) AS id ORDER BY hashtext('delivery-' || id)`, [ids]);
    const [low, high] = (rows as { id: string }[]).map((r) => r.id);
    // A deletion of `low` holds its lock exclusively.
    const deleting = new pg.Client({ connectionString: db.url });
    const committing = new pg.Client({ connectionString: db.url });
    await Promise.all([deleting.connect(), committing.connect()]);
    try {
      await deleting.query('BEGIN');
      await deleting.query(`SELECT pg_advisory_xact_lock(hashtext('delivery-' || $1))`, [low]);
      // A commit asks for `high` then `low`: it must wait for `low` holding nothing, not hold `high` while it waits.
      await committing.query('BEGIN');
      const pid = (await committing.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      const locked = queues[0].lockForCommit([high, low], { executeSql: (sql, params) => committing.query(sql, params) });
      const advisory = async (granted: boolean) =>
        Number((await db.knex.raw(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = ? AND granted = ?`, [pid, granted])).rows[0].n);
      for (let i = 0; (await advisory(false)) === 0; i++) {
        if (i > 200) throw new Error('the commit never waited for the lock');
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(await advisory(true)).toBe(0);
      await deleting.query('COMMIT');
      await locked;
      expect(await advisory(true)).toBe(2);
      await committing.query('COMMIT');
    } finally {
      await Promise.all([deleting.end(), committing.end()]);
    }
  });

  it('is one pg-boss queue whatever the number of integrations, and stores payloads uncompressed (they are gzip\'d)', async () => {
    const ids = Array.from({ length: 50 }, () => randomUUID());
    await queues[0].enqueue(ids.map((id) => job(id)));
    const { rows } = await db.knex.raw(`SELECT count(*)::int AS n FROM pgboss.queue`);
    expect(rows[0].n).toBe(1);
    const tables = await db.knex.raw(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'pgboss'`);
    const storage = await db.knex.raw(`SELECT attstorage FROM pg_attribute WHERE attrelid = 'pgboss.job_common'::regclass AND attname = 'data'`);
    expect(storage.rows[0].attstorage).toBe('e');
    // A job waits up to 30 days (a disabled integration's events), not pg-boss's default 14.
    const kept = await db.knex.raw(`SELECT min(keep_until - created_on) AS d FROM pgboss.job WHERE name = ?`, [QUEUE]);
    expect(kept.rows[0].d.days).toBe(30);
    // Another 50 integrations' jobs add no table.
    await queues[1].enqueue(Array.from({ length: 50 }, () => job(randomUUID())));
    expect((await db.knex.raw(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'pgboss'`)).rows[0].n).toBe(tables.rows[0].n);
    await db.knex.raw(`DELETE FROM pgboss.job WHERE name = ?`, [QUEUE]);
  });

  it('hands out no more than the per-integration limit of one integration at once, and the others\' jobs beside them', async () => {
    const noisy = randomUUID();
    const quiet = randomUUID();
    await queues[0].enqueue(Array.from({ length: 20 }, () => job(noisy)));
    await queues[0].enqueue([job(quiet)]);
    const taken = [...(await queues[0].fetch(10, 3)), ...(await queues[1].fetch(10, 3)), ...(await queues[0].fetch(10, 3))];
    const byIntegration = (id: string) => taken.filter((j) => j.data.integrationId === id).length;
    expect(byIntegration(noisy)).toBe(3);
    expect(byIntegration(quiet)).toBe(1);
    await queues[0].complete(taken.map((j) => j.id));
    await db.knex.raw(`DELETE FROM pgboss.job WHERE name = ?`, [QUEUE]);
  });

  it('hands out the oldest job of an integration with none active before older jobs of integrations being delivered', async () => {
    const [busy, quiet] = [randomUUID(), randomUUID()];
    await queues[0].enqueue(Array.from({ length: 10 }, () => job(busy)));
    expect((await queues[0].fetch(2, 4)).map((j) => j.data.integrationId)).toEqual([busy, busy]);
    await queues[0].enqueue([job(quiet)]);
    // Room for one more job: `busy` may have two more active and has older jobs; `quiet` has none active.
    expect((await queues[1].fetch(1, 4)).map((j) => j.data.integrationId)).toEqual([quiet]);
    // Then the oldest again, within the limit.
    expect((await queues[1].fetch(4, 4)).map((j) => j.data.integrationId)).toEqual([busy, busy]);
    await db.knex.raw(`DELETE FROM pgboss.job WHERE name = ?`, [QUEUE]);
  });

  it('notifies listeners when a commit queues due jobs, not when it queues jobs for later', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.channel));
    await listener.query(`LISTEN ${JOBS_CHANNEL}`);
    try {
      await queues[0].enqueue([job(randomUUID(), new Date(Date.now() + 60_000))]);
      await new Promise((r) => setTimeout(r, 200));
      expect(heard).toEqual([]);
      await queues[0].enqueue([job(randomUUID())]);
      for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(heard).toEqual([JOBS_CHANNEL]);
    } finally {
      await listener.end();
      await db.knex.raw(`DELETE FROM pgboss.job WHERE name = ?`, [QUEUE]);
    }
  });
});
