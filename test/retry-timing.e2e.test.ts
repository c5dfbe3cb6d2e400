import { jest } from '@jest/globals';
import { page } from './fixtures/events.js';
import { startHarness, US, type Harness } from './support/delivery-harness.js';
import { histogram } from './support/metrics-text.js';

/** A retry, or a job held for the circuit breaker's probe, fires at its time, not at the worker's next sweep (issue 10). */
let h: Harness;
const SHORT_RETRIES = { DELIVERY_SWEEP_MS: '10000', DELIVERY_RETRY_BASE_MS: '300', DELIVERY_RETRY_MAX_MS: '300' };
let env: Record<string, string> = SHORT_RETRIES;
beforeEach(async () => {
  h = await startHarness(env);
});
afterEach(() => h.close());

/** How late the worker took delayed jobs (finished jobs are deleted, so /metrics tells). */
const lateness = async () => histogram((await h.t.request.get('/metrics')).text, 'delivery_delayed_job_lateness_seconds');

/** Installs Mixpanel and posts an event whose first attempt gets a 503; returns when that attempt failed. */
async function firstAttemptFails(): Promise<number> {
  await h.install('Mixpanel');
  h.us.faults = { nextStatuses: [503] };
  await h.post([page()]);
  await h.until(() => h.us.state.requests.length === 1, 'the failed attempt');
  return Date.now();
}

it('a retry the worker queued is fetched when it is due, though the sweep is 10 s away', async () => {
  const failedAt = await firstAttemptFails();
  await h.until(() => h.us.eventsOf(US.token).length === 1, 'the retry', 15000);
  // Back-off of 300 ms (plus up to 2.5× jitter): well under the sweep.
  expect(Date.now() - failedAt).toBeLessThan(3000);
  const late = await lateness();
  expect(late.count).toBe(1);
  expect(late.le('0.5')).toBe(1);
  // Both attempts' jobs are gone once done.
  const jobs = async () => (await h.t.db.knex.raw(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'delivery'`)).rows[0].n;
  await h.until(async () => (await jobs()) === 0, 'the finished jobs deleted');
});

it('retries due at different times each fire at theirs, not only the earliest', async () => {
  await firstAttemptFails();
  await new Promise((r) => setTimeout(r, 150)); // the second one fails later: its retry is due later
  h.us.faults = { nextStatuses: [503] };
  await h.post([page()]);
  await h.until(() => h.us.eventsOf(US.token).length === 2, 'both retries', 15000);
  const late = await lateness();
  expect(late.count).toBe(2);
  expect(late.le('0.5')).toBe(2); // with the sweep 10 s away
});

describe('with the circuit breaker opening at the first failure', () => {
  beforeAll(() => (env = { ...SHORT_RETRIES, DELIVERY_BREAKER_THRESHOLD: '1', DELIVERY_BREAKER_PROBE_MS: '500' }));
  afterAll(() => (env = SHORT_RETRIES));

  it("jobs held for the breaker's probe are fetched at the probe's time, not at the sweep", async () => {
    const failedAt = await firstAttemptFails(); // the breaker opens
    await h.post([page()]); // fetched while the breaker is open: held until the probe
    await h.until(() => h.us.eventsOf(US.token).length === 2, 'both events after the probe', 15000);
    expect(Date.now() - failedAt).toBeLessThan(3000); // the sweep is 10 s away
    const late = await lateness();
    expect(late.count).toBeGreaterThan(0);
    expect(late.le('0.5')).toBe(late.count);
  });
});

it("a commit's notification costs an idle worker one fetch, and the batch finishing one more: none at once after a fetch that took every due job", async () => {
  await h.install('Mixpanel');
  await h.post([page()]);
  await h.until(() => h.us.eventsOf(US.token).length === 1, 'the first event');
  await new Promise((r) => setTimeout(r, 300)); // its batch committed, the worker idle again
  const fetches = jest.spyOn(h.t.services.queue, 'fetch');
  await h.post([page()]);
  await h.until(() => h.us.eventsOf(US.token).length === 2, 'the second event');
  await new Promise((r) => setTimeout(r, 300)); // its batch committed, and the loop it woke fetched
  expect(fetches).toHaveBeenCalledTimes(2);
  expect((await Promise.all(fetches.mock.results.map((r) => r.value))).map((jobs) => (jobs as unknown[]).length)).toEqual([1, 0]);
});

describe('with a fetch gap of 1 s and one fetch loop', () => {
  beforeAll(() => (env = { ...SHORT_RETRIES, DELIVERY_FETCH_GAP_MS: '1000', DELIVERY_FETCH_LOOPS: '1' }));
  afterAll(() => (env = SHORT_RETRIES));

  it('jobs queued by commits within the gap after a fetch that took every due job (or none) share the next fetch', async () => {
    await h.install('Mixpanel');
    const fetches = jest.spyOn(h.t.services.queue, 'fetch');
    const taken = async () => (await Promise.all(fetches.mock.results.map((r) => r.value))).map((jobs) => (jobs as unknown[]).length);
    await h.post([page()]);
    await h.until(() => fetches.mock.results.length === 1, 'the first fetch');
    const firstFetchAt = Date.now();
    for (let i = 0; i < 3; i++) await h.post([page()]); // three commits, three notifications
    await h.until(() => h.us.eventsOf(US.token).length === 4, 'all four events');
    expect(Date.now() - firstFetchAt).toBeGreaterThanOrEqual(900);
    expect(await taken()).toEqual([1, 3]);
    // The batch finishing wakes the loop for a fetch that finds nothing; commits right after it share the next one too.
    await h.until(() => fetches.mock.results.length >= 3, 'the empty fetch');
    expect((await taken())[2]).toBe(0);
    for (let i = 0; i < 3; i++) await h.post([page()]);
    await h.until(() => h.us.eventsOf(US.token).length === 7, 'all seven events');
    expect((await taken()).slice(0, 4)).toEqual([1, 3, 0, 3]);
  });
});
