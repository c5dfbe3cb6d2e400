import { page } from './fixtures/events.js';
import { startHarness, US, type Harness } from './support/delivery-harness.js';
import { guideInstallBody } from './support/test-app.js';

/** One org's backlog never delays another org's events (issue 10). */
let h: Harness;
afterEach(() => h?.close());

const lane = (name: string) => h.us.eventsOf(US.token).filter((e) => e.properties.lane === name).length;

/** Installs the quiet org's integration (to the same project) and returns its ingestion key. */
async function quietOrg(): Promise<string> {
  const quietId = (await h.t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(h.t.auth('quiet')).send(guideInstallBody({ config: { project_token: US.token, api_secret: US.apiSecret } }))).body.id;
  expect(quietId).toBeDefined();
  return (await h.t.request.post('/v1/admin/ingest-keys').set(h.t.auth('quiet')).send({ name: 'q' })).body.key;
}

/**
 * Queues a noisy backlog (`posts` POSTs of 5 events from org acme, each answered in 100 ms by the
 * stand-in), then one quiet event from `quietKey`; returns how long the quiet one took to arrive.
 */
async function quietAfterNoisy(posts: number, quietKey: string): Promise<number> {
  h.us.faults = { delayMs: 100 };
  for (let j = 0; j < posts; j++) expect((await h.post(Array.from({ length: 5 }, () => page({ properties: { lane: 'noisy' } })))).status).toBe(202);
  const sent = Date.now();
  const res = await h.t.request.post('/v1/events').set('Authorization', `Bearer ${quietKey}`).send({ events: [page({ properties: { lane: 'quiet' } })] });
  expect(res.status).toBe(202);
  await h.until(() => lane('quiet') === 1, 'the quiet event');
  return Date.now() - sent;
}

it("a quiet org's event goes out while a noisy org's backlog is still draining", async () => {
  // Each request takes 100 ms at the stand-in; one integration may have 2 jobs active at once.
  h = await startHarness({ DELIVERY_JOBS_PER_INTEGRATION: '2', DELIVERY_JOBS_PER_FETCH: '4' });
  await h.install('Noisy');
  // 40 jobs of 5 events: at 2 jobs per 100 ms, about 2 s of backlog.
  const quietAfterMs = await quietAfterNoisy(40, await quietOrg());
  const noisyThen = lane('noisy');
  await h.until(() => lane('noisy') === 200, 'the noisy backlog', 30000);
  expect(noisyThen).toBeLessThan(200 * 0.75); // most of the backlog was still waiting
  expect(quietAfterMs).toBeLessThan(1500);
});

it("a quiet org's event goes out while a noisy org with several integrations fills the worker with its backlog", async () => {
  // The noisy org's three integrations may have 6 jobs active, more than the worker's 4 in flight:
  // their older jobs are always due when room frees (before, the quiet org's event waited for all of them).
  h = await startHarness({ DELIVERY_JOBS_PER_INTEGRATION: '2', DELIVERY_JOBS_PER_FETCH: '4', DELIVERY_JOBS_IN_FLIGHT: '4', DELIVERY_JOBS_PER_BATCH: '1' });
  for (const name of ['Noisy A', 'Noisy B', 'Noisy C']) await h.install(name);
  // 20 POSTs of 5 events, each queued for the three integrations: 60 jobs, at 4 per 100 ms about 1.5 s.
  const quietAfterMs = await quietAfterNoisy(20, await quietOrg());
  // The three integrations send the same events to one project: count the noisy jobs' requests.
  const noisyJobsDone = () => h.us.state.requests.filter((r) => r.path === '/import' && r.status === 200 && r.count === 5).length;
  const noisyThen = noisyJobsDone();
  await h.until(() => noisyJobsDone() === 60, 'the noisy backlog', 20000);
  expect(noisyThen).toBeLessThan(60 * 0.75);
  expect(quietAfterMs).toBeLessThan(700);
});
