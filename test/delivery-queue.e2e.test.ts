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

describe('the delivery queue', () => {
  it('creates queues that processes ask for at the same moment (pg-boss\'s create_queue can deadlock)', async () => {
    const ids = Array.from({ length: 12 }, () => randomUUID());
    // Every id asked for by both processes at once, and by several callers within each.
    await Promise.all(ids.flatMap((id) => queues.flatMap((q) => [q.ensure(id), q.ensure(id)])));
    const { rows } = await db.knex.raw('SELECT count(*)::int AS n FROM pgboss.queue WHERE name = ANY(?)', [ids.map(DeliveryQueue.queueName)]);
    expect(rows[0].n).toBe(ids.length);
  }, 60000);
});
