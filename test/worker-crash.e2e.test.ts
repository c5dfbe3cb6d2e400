import { page } from './fixtures/events.js';
import { FakeMixpanel } from './fake-mixpanel/server.js';
import { FAST_DELIVERY_ENV, US } from './support/delivery-harness.js';
import { startServerProcess, waitFor } from './support/server-process.js';
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
    const second = startServerProcess(env, 'src/worker.ts');
    try {
      await waitFor(() => fake.eventsOf(US.token).length === 50, 30000, 'all events delivered by the second worker');
      const ids = new Set(fake.eventsOf(US.token).map((e) => e.properties.$insert_id));
      expect(ids.size).toBe(50);
      // The killed worker's request was still processed by Mixpanel: the resend was deduplicated.
      await waitFor(() => fake.state.duplicates === 50, 10000, 'the resend to be deduplicated');
      await waitFor(async () => {
        const open = await t.db.knex.raw(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'delivery' AND state IN ('created','retry','active')`);
        return open.rows[0].n === 0;
      }, 15000, 'queue drained');
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  }, 90000);
});
