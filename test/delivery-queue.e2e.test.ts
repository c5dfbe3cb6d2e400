import { randomUUID } from 'node:crypto';
import { DeliveryQueue } from '../src/delivery/delivery-queue.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
const queues: DeliveryQueue[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
  // Two processes' worth of queues (their own pg-boss and connections), as an API and a worker.
  for (let i = 0; i < 2; i++) {
    queues.push(await DeliveryQueue.start(db.url, db.knex, { expireInSeconds: 60, maintenanceSeconds: 60, poolMax: 4, onError: () => {} }));
  }
});
afterAll(async () => {
  for (const q of queues) await q.stop();
  await db.drop();
});

/** How each queue's partition stores job payloads: 'e' external (uncompressed), 'x' extended (pglz). */
async function payloadStorage(names: string[]): Promise<string[]> {
  const { rows } = await db.knex.raw(
    `SELECT a.attstorage FROM pgboss.queue q
       JOIN pg_attribute a ON a.attrelid = format('pgboss.%I', q.partition_name)::regclass AND a.attname = 'data'
      WHERE q.name = ANY(?) ORDER BY array_position(?::text[], q.name)`,
    [names, names],
  );
  return rows.map((r: { attstorage: string }) => r.attstorage);
}

describe('the delivery queue', () => {
  it('creates queues that processes ask for at the same moment (pg-boss\'s create_queue can deadlock)', async () => {
    const ids = Array.from({ length: 12 }, () => randomUUID());
    // Every id asked for by both processes at once, and by several callers within each.
    await Promise.all(ids.flatMap((id) => queues.flatMap((q) => [q.ensure(id), q.ensure(id)])));
    const { rows } = await db.knex.raw('SELECT count(*)::int AS n FROM pgboss.queue WHERE name = ANY(?)', [ids.map(DeliveryQueue.queueName)]);
    expect(rows[0].n).toBe(ids.length);
    // Payloads are gzip'd: each partition stores them uncompressed (no futile pglz pass).
    expect(await payloadStorage(ids.map(DeliveryQueue.queueName))).toEqual(ids.map(() => 'e'));
  }, 60000);

  it('sets that storage on a queue created before (by pg-boss alone), when a process first asks for it', async () => {
    const id = randomUUID();
    const name = DeliveryQueue.queueName(id);
    await queues[0].boss.createQueue(name);
    expect(await payloadStorage([name])).toEqual(['x']);
    await queues[1].ensure(id);
    expect(await payloadStorage([name])).toEqual(['e']);
  });
});
