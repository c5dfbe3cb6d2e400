import { page } from './fixtures/events.js';
import { FakeMixpanel } from './fake-mixpanel/server.js';
import { FAST_DELIVERY_ENV, US } from './support/delivery-harness.js';
import { freePort, startServerProcess, waitFor } from './support/server-process.js';
import { guideInstallBody, startTestApp, TEST_JWT_SECRET, type TestApp } from './support/test-app.js';

/** `npm run worker` as its own process: killed mid-batch, its jobs come back and nothing is lost. */
describe('a worker killed mid-batch', () => {
  let t: TestApp;
  const fake = new FakeMixpanel([US]);

  beforeAll(async () => {
    await fake.start();
    t = await startTestApp({ ...FAST_DELIVERY_ENV, MIXPANEL_US_URL: fake.url }); // jobs expire after 2 s
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  it('loses nothing: another worker delivers its jobs, Mixpanel keeps one copy of each event', async () => {
    await t.request
      .post('/v1/admin/integration-catalog/mixpanel/install')
      .set(t.auth('acme'))
      .send(guideInstallBody({ config: { project_token: US.token, api_secret: US.apiSecret } }));
    const key = (await t.request.post('/v1/admin/ingest-keys').set(t.auth('acme')).send({ name: 'k' })).body.key;
    const events = Array.from({ length: 50 }, () => page());
    expect((await t.request.post('/v1/events').set('Authorization', `Bearer ${key}`).send({ events })).status).toBe(202);

    const env = {
      ...FAST_DELIVERY_ENV,
      DELIVERY_TIMEOUT_MS: '10000',
      DATABASE_URL: t.db.url,
      JWT_SECRET: TEST_JWT_SECRET,
      ENCRYPTION_KEY: t.config.encryptionKeys[0].key.toString('base64'),
      MIXPANEL_US_URL: fake.url,
      NODE_ENV: 'test',
    };
    fake.faults = { delayMs: 1500 };
    const first = startServerProcess(env, 'src/worker.ts');
    await waitFor(() => first.output().includes('delivery worker running'), 30000, 'first worker');
    // wait until its request is in flight (the stand-in holds it for 1.5 s), then kill it hard
    await waitFor(() => fake.received > 0, 30000, 'a request in flight');
    first.child.kill('SIGKILL');
    await first.exited;

    fake.faults = {};
    const metricsPort = await freePort();
    const second = startServerProcess({ ...env, WORKER_METRICS_PORT: String(metricsPort), METRICS_TOKEN: 'scrape-token' }, 'src/worker.ts');
    try {
      await waitFor(() => fake.eventsOf(US.token).length === 50, 30000, 'all events delivered');
      // The killed worker's request was still processed by Mixpanel (the stand-in may finish it before
      // the second worker is up): the second worker's resend was deduplicated.
      await waitFor(() => fake.state.duplicates === 50, 30000, 'the second worker to resend them, deduplicated');
      // The worker's own counters, on its own port (WORKER_METRICS_PORT), behind METRICS_TOKEN.
      await waitFor(() => second.output().includes('worker metrics on GET /metrics'), 10000, 'the worker metrics port');
      const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
      expect((await fetch(metricsUrl)).status).toBe(401);
      await waitFor(async () => {
        const text = await (await fetch(metricsUrl, { headers: { Authorization: 'Bearer scrape-token' } })).text();
        return /delivery_events_total\{integration_id="[^"]+",outcome="delivered"\} 50/.test(text);
      }, 10000, 'the worker to count its 50 delivered events on its metrics port');
      const ids = new Set(fake.eventsOf(US.token).map((e) => e.properties.$insert_id));
      expect(ids.size).toBe(50);
      await waitFor(async () => {
        const open = await t.db.knex.raw(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'delivery' AND state IN ('created','retry','active')`);
        return open.rows[0].n === 0;
      }, 15000, 'queue drained');
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  }, 90000);

  it('three workers share one backlog: each event sent once; one killed with SIGKILL mid-batch costs only its own requests', async () => {
    fake.reset();
    await t.request
      .post('/v1/admin/integration-catalog/mixpanel/install')
      .set(t.auth('scale'))
      .send(guideInstallBody({ config: { project_token: US.token, api_secret: US.apiSecret } }));
    const key = (await t.request.post('/v1/admin/ingest-keys').set(t.auth('scale')).send({ name: 'k' })).body.key;
    const env = {
      ...FAST_DELIVERY_ENV,
      DELIVERY_TIMEOUT_MS: '10000',
      DELIVERY_JOBS_PER_FETCH: '2',
      DELIVERY_JOBS_PER_INTEGRATION: '6',
      DELIVERY_JOBS_IN_FLIGHT: '2',
      DATABASE_URL: t.db.url,
      JWT_SECRET: TEST_JWT_SECRET,
      ENCRYPTION_KEY: t.config.encryptionKeys[0].key.toString('base64'),
      MIXPANEL_US_URL: fake.url,
      NODE_ENV: 'test',
    };
    const workers = Array.from({ length: 3 }, () => startServerProcess(env, 'src/worker.ts'));
    const postJobs = async (jobs: number) => {
      for (let j = 0; j < jobs; j++) {
        const events = Array.from({ length: 10 }, () => page());
        expect((await t.request.post('/v1/events').set('Authorization', `Bearer ${key}`).send({ events })).status).toBe(202);
      }
    };
    const stored = () => fake.eventsOf(US.token).length;
    try {
      for (const w of workers) await waitFor(() => w.output().includes('delivery worker running'), 30000, 'a worker');
      // Phase 1: 30 jobs among three workers, nobody killed: nothing is sent twice.
      fake.faults = { delayMs: 100 };
      await postJobs(30);
      await waitFor(() => stored() === 300, 30000, 'the first backlog delivered');
      expect(fake.state.duplicates).toBe(0);
      const served = new Set(fake.state.requests.map((r) => r.status));
      expect([...served]).toEqual([200]);

      // Phase 2: requests held 1.5 s at the stand-in; one worker killed while it has some in flight.
      fake.faults = { delayMs: 1500 };
      await postJobs(30);
      await waitFor(() => fake.received > fake.state.requests.length + 2, 30000, 'requests in flight');
      workers[0].child.kill('SIGKILL');
      await workers[0].exited;
      fake.faults = {};
      await waitFor(() => stored() === 600, 60000, 'the second backlog delivered by the two left');
      const ids = new Set(fake.eventsOf(US.token).map((e) => e.properties.$insert_id));
      expect(ids.size).toBe(600);
      // Only what the killed worker had in flight can come twice (at most its fetch: 2 jobs of 10).
      expect(fake.state.duplicates).toBeLessThanOrEqual(20);
    } finally {
      for (const w of workers.slice(1)) w.child.kill('SIGTERM');
      for (const w of workers.slice(1)) expect(await w.exited).toBe(0);
    }
  }, 120000);
});
