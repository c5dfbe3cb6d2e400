import { page } from './fixtures/events.js';
import { startHarness, US, type Harness } from './support/delivery-harness.js';
import { guideInstallBody } from './support/test-app.js';

/** One org's backlog never delays another org's events (issue 10). */
let h: Harness;
beforeEach(async () => {
  // Each request takes 100 ms at the stand-in; one integration may have 2 jobs active at once.
  h = await startHarness({ DELIVERY_JOBS_PER_INTEGRATION: '2', DELIVERY_JOBS_PER_FETCH: '4' });
});
afterEach(() => h.close());

const lane = (name: string) => h.us.eventsOf(US.token).filter((e) => e.properties.lane === name).length;

it("a quiet org's event goes out while a noisy org's backlog is still draining", async () => {
  await h.install('Noisy');
  const quietId = (await h.t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(h.t.auth('quiet')).send(guideInstallBody({ config: { project_token: US.token, api_secret: US.apiSecret } }))).body.id;
  expect(quietId).toBeDefined();
  const quietKey = (await h.t.request.post('/v1/admin/ingest-keys').set(h.t.auth('quiet')).send({ name: 'q' })).body.key;
  h.us.faults = { delayMs: 100 };
  // 40 jobs of 5 events: at 2 jobs per 100 ms, about 2 s of backlog.
  for (let j = 0; j < 40; j++) expect((await h.post(Array.from({ length: 5 }, () => page({ properties: { lane: 'noisy' } })))).status).toBe(202);
  const sent = Date.now();
  const res = await h.t.request.post('/v1/events').set('Authorization', `Bearer ${quietKey}`).send({ events: [page({ properties: { lane: 'quiet' } })] });
  expect(res.status).toBe(202);
  await h.until(() => lane('quiet') === 1, 'the quiet event');
  const quietAfterMs = Date.now() - sent;
  const noisyThen = lane('noisy');
  await h.until(() => lane('noisy') === 200, 'the noisy backlog', 30000);
  expect(noisyThen).toBeLessThan(200 * 0.75); // most of the backlog was still waiting
  expect(quietAfterMs).toBeLessThan(1500);
});
