import type { Knex } from 'knex';
import supertest from 'supertest';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createKnex } from '../src/db.js';
import { createLogger } from '../src/logger.js';
import { createServices, type Services } from '../src/services.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { guideInstallBody, TEST_JWT_SECRET } from './support/test-app.js';
import { signAccessToken } from '../src/http/auth.js';
import { counter } from './support/metrics-text.js';

/** The API on a deliberately small pool (3 connections, 1 s wait), as under a burst of load. */
let db: TestDatabase;
let knex: Knex;
let services: Services;
let request: ReturnType<typeof supertest>;
const auth = (org = 'acme', role: 'editor' | 'admin' = 'admin') => ({ Authorization: `Bearer ${signAccessToken(TEST_JWT_SECRET, { sub: `u-${role}`, org_id: org, role })}` });

beforeAll(async () => {
  db = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
    DATABASE_URL: db.url,
    RATE_LIMIT_PER_MINUTE: '100000',
    DB_POOL_MAX: '3',
    DB_ACQUIRE_TIMEOUT_MS: '1000',
  });
  knex = createKnex(db.url, config.dbPoolMax, config.dbAcquireTimeoutMs);
  const logger = createLogger('silent');
  services = await createServices(knex, db.url, config, logger);
  request = supertest(createApp({ config, knex, logger, services }));
});
afterAll(async () => {
  await services.close();
  await knex.destroy();
  await db.drop();
});

const timed = async <T>(p: PromiseLike<T>) => {
  const start = Date.now();
  const value = await p;
  return { value, ms: Date.now() - start };
};

describe('a full connection pool', () => {
  it('many concurrent restores, PATCHes, PUTs and installs all answer quickly, none with 500', async () => {
    const installed = await request.post('/v1/admin/integration-catalog/mixpanel/install').set(auth()).send(guideInstallBody());
    expect(installed.status).toBe(201);
    const id = installed.body.id as string;
    const blueprint = installed.body.blueprint;
    const calls = [
      ...Array.from({ length: 10 }, () => request.post(`/v1/admin/integrations/${id}/revisions/1/restore`).set(auth('acme', 'editor'))),
      ...Array.from({ length: 10 }, (_, i) => request.patch(`/v1/admin/integrations/${id}`).set(auth('acme', 'editor')).send({ name: `Renamed ${i}` })),
      ...Array.from({ length: 10 }, () => request.put(`/v1/admin/integrations/${id}/blueprint`).set(auth('acme', 'editor')).send(blueprint)),
      ...Array.from({ length: 10 }, (_, i) => request.post('/v1/admin/integration-catalog/mixpanel/install').set(auth(`org-${i}`)).send(guideInstallBody())),
    ];
    const ready = timed(new Promise((r) => setTimeout(r, 50)).then(() => request.get('/readyz')));
    const { value: answers, ms } = await timed(Promise.all(calls.map((c) => c.then((res) => res))));
    expect(ms).toBeLessThan(15_000);
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => ![200, 201, 503].includes(s))).toEqual([]);
    for (const a of answers.filter((x) => x.status === 503)) {
      expect(a.headers['retry-after']).toBe('1');
      expect(a.body.error.code).toBe('SERVICE_UNAVAILABLE');
    }
    expect(statuses.filter((s) => s === 200 || s === 201).length).toBeGreaterThan(20); // most get through
    const r = await ready;
    expect(r.value.status).toBe(200);
    expect(r.ms).toBeLessThan(2000);
  }, 30_000);

  it('answers 503 with Retry-After at once when every connection is held, while /healthz and /readyz still answer', async () => {
    const held: Knex.Transaction[] = [];
    for (let i = 0; i < 3; i++) held.push(await knex.transaction());
    try {
      const { value: busy, ms } = await timed(request.get('/v1/admin/integrations').set(auth()));
      expect(busy.status).toBe(503);
      expect(busy.headers['retry-after']).toBe('1');
      expect(busy.body.error.message).toBe('The database gave no connection in time (all in use, or slow to connect); retry shortly');
      expect(ms).toBeLessThan(2000);
      const { value: metrics, ms: metricsMs } = await timed(request.get('/metrics'));
      expect([metrics.status, counter(metrics.text, 'database_up')]).toEqual([200, 0]);
      expect(metricsMs).toBeLessThan(2000);
      const { value: ready, ms: readyMs } = await timed(request.get('/readyz'));
      expect([ready.status, ready.body.database]).toEqual([200, 'ok']);
      expect(readyMs).toBeLessThan(1500);
      expect((await request.get('/healthz')).status).toBe(200);
    } finally {
      await Promise.all(held.map((t) => t.rollback()));
    }
    expect((await request.get('/v1/admin/integrations').set(auth())).status).toBe(200);
    expect(counter((await request.get('/metrics')).text, 'database_up')).toBe(1);
  }, 30_000);
});
