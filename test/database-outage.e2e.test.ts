import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import supertest from 'supertest';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createKnex } from '../src/db.js';
import type { DeliveryWorker } from '../src/delivery/delivery-worker.js';
import { createServices, type Services } from '../src/services.js';
import { signAccessToken } from '../src/http/auth.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { counter } from './support/metrics-text.js';
import { capturingLogger, type LogLine } from './support/delivery-harness.js';
import { waitFor } from './support/server-process.js';
import { guideInstallBody, TEST_JWT_SECRET } from './support/test-app.js';

/**
 * PostgreSQL going away under the running API (a restart, a failover, a network cut), played by a
 * TCP proxy in front of the test database that stops listening and cuts its connections: requests
 * answer 503 saying so, /metrics still answers (database_up 0), and everything works again once it
 * is back, without a restart.
 */
class CuttableProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly host: string,
    private readonly targetPort: number,
  ) {}

  /** Listens (again, on the same port once it has one); nothing when it already does. */
  async open(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Refuses new connections and cuts the open ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

let db: TestDatabase;
let proxy: CuttableProxy;
let knex: Knex;
let services: Services;
let request: ReturnType<typeof supertest>;
let worker: DeliveryWorker;
const lines: LogLine[] = [];
const logged = () => lines.filter((l) => l.msg !== 'request');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const auth = () => ({ Authorization: `Bearer ${signAccessToken(TEST_JWT_SECRET, { sub: 'u-admin', org_id: 'acme', role: 'admin' })}` });

beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(db.url);
  proxy = new CuttableProxy(target.hostname, Number(target.port || 5432));
  await proxy.open();
  const viaProxy = new URL(db.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
    DATABASE_URL: viaProxy.toString(),
    RATE_LIMIT_PER_MINUTE: '100000',
    DB_ACQUIRE_TIMEOUT_MS: '1000',
  });
  knex = createKnex(viaProxy.toString(), config.dbPoolMax, config.dbAcquireTimeoutMs);
  const logger = capturingLogger(lines);
  services = await createServices(knex, viaProxy.toString(), config, logger);
  request = supertest(createApp({ config, knex, logger, services }));
  worker = services.createWorker(logger);
  worker.start();
});
afterAll(async () => {
  await proxy.open();
  await worker.stop();
  await services.close();
  await knex.destroy();
  await proxy.cut();
  await db.drop();
});

describe('PostgreSQL out of reach while the API runs', () => {
  it('answers 503 saying the database cannot be reached, keeps /metrics (database_up 0) and /healthz, logs the outage once and its end, and recovers by itself', async () => {
    const installed = await request.post('/v1/admin/integration-catalog/mixpanel/install').set(auth()).send(guideInstallBody());
    expect(installed.status).toBe(201);
    const id = installed.body.id as string;
    const before = await request.get('/metrics');
    expect(before.status).toBe(200);
    expect(counter(before.text, 'database_up')).toBe(1);
    expect(counter(before.text, 'zero_traffic', `{integration_id="${id}"}`)).toBe(1);

    await proxy.cut();
    const list = await request.get('/v1/admin/integrations').set(auth());
    expect(list.status).toBe(503);
    expect(list.headers['retry-after']).toBe('1');
    expect(list.body.error).toEqual({ code: 'SERVICE_UNAVAILABLE', message: 'The database cannot be reached; retry shortly' });
    const metrics = await request.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(counter(metrics.text, 'database_up')).toBe(0);
    expect(metrics.text).not.toContain('zero_traffic{');
    expect(metrics.text).toContain('process_cpu_seconds_total');
    expect((await request.get('/healthz')).status).toBe(200);
    const ready = await request.get('/readyz');
    expect([ready.status, ready.body.database]).toEqual([503, 'unreachable']);

    // The log: the outage's first error at once, then quiet (before: three lines a second from a worker).
    await waitFor(() => logged().some((l) => l.level === 50), 10_000, 'the outage to be logged');
    const from = logged().length;
    await sleep(3000);
    const during = logged().slice(from);
    expect(logged().find((l) => l.level === 50)?.msg).toMatch(/: the database cannot be reached; errors like it are counted and written once every 60 s/);
    expect(during).toEqual([]);

    await proxy.open();
    await waitFor(() => logged().some((l) => /^the database answers again after \d+ s$/.test(l.msg)), 10_000, 'the log to say the database is back');
    expect((await request.get('/v1/admin/integrations').set(auth())).status).toBe(200);
    const after = await request.get('/metrics');
    expect(counter(after.text, 'database_up')).toBe(1);
    expect(counter(after.text, 'zero_traffic', `{integration_id="${id}"}`)).toBe(1);
  }, 30_000);
});
