import { page } from './fixtures/events.js';
import { startHarness, US, type Harness } from './support/delivery-harness.js';

/** Mixpanel down for longer than a blip: events ride it out (circuit breaker), or outlive the window. */
let h: Harness;
afterEach(() => h.close());

const BREAKER = { DELIVERY_BREAKER_THRESHOLD: '2', DELIVERY_BREAKER_PROBE_MS: '300', DELIVERY_MAX_ATTEMPTS: '3', DELIVERY_SHORT_RETRIES: '3' };
const integration = async (id: string) => (await h.t.request.get(`/v1/admin/integrations/${id}`).set(h.t.auth('acme', 'viewer'))).body;
const deadLetters = async (id: string) =>
  (await h.t.request.get(`/v1/admin/integrations/${id}/dead-letters`).set(h.t.auth('acme', 'viewer'))).body.data as { reason: string }[];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a Mixpanel outage', () => {
  it('longer than the attempts would last: events are held without spending attempts, then all delivered once', async () => {
    h = await startHarness(BREAKER);
    const id = await h.install('Mixpanel');
    h.us.faults = { rate5xx: 1 }; // every request: 503
    const sent = [];
    for (let i = 0; i < 3; i++) {
      const batch = [page(), page()];
      sent.push(...batch);
      expect((await h.post(batch)).status).toBe(202);
      await sleep(400);
    }
    await h.until(async () => (await integration(id)).delivery_health === 'degraded', 'the integration to show degraded');
    const degraded = await integration(id);
    expect(degraded.degraded_since).not.toBeNull();
    expect(degraded.degraded_reason).toMatch(/503/);
    const stats = (await h.t.request.get(`/v1/admin/integrations/${id}/stats`).set(h.t.auth('acme', 'viewer'))).body;
    expect(stats).toMatchObject({ delivery_health: 'degraded', dead_lettered: 0 });
    expect((await h.t.request.get('/metrics')).text).toContain(`delivery_degraded{integration_id="${id}"} 1`);

    // Without the breaker, 3 attempts 20 ms apart would have dead-lettered everything long ago.
    await sleep(4000);
    expect(await deadLetters(id)).toHaveLength(0);
    const during = h.us.state.requests.length;
    expect(during).toBeLessThan(40); // probes, not a retry storm

    h.us.faults = {};
    await h.until(() => h.us.eventsOf(US.token).length === sent.length, 'every event delivered after the outage');
    expect(new Set(h.us.eventsOf(US.token).map((e) => e.properties.$insert_id)).size).toBe(sent.length);
    expect(h.us.state.duplicates).toBe(0);
    expect(await deadLetters(id)).toHaveLength(0);
    await h.until(async () => (await integration(id)).delivery_health === 'healthy', 'healthy again');
    expect((await integration(id)).degraded_since).toBeNull();
    const msgs = h.logs.map((l) => l.msg);
    expect(msgs.some((m) => m.startsWith('delivery degraded: Mixpanel keeps failing'))).toBe(true);
    expect(msgs.some((m) => m.startsWith('delivery recovered'))).toBe(true);
  }, 60_000);

  it('longer than the delivery window: the events are dead-lettered with that reason', async () => {
    h = await startHarness({ ...BREAKER, DELIVERY_MAX_AGE_SECONDS: '2' });
    const id = await h.install('Mixpanel');
    h.us.faults = { rate5xx: 1 };
    await h.post([page(), page()]);
    await h.until(async () => (await deadLetters(id)).length === 2, 'both events dead-lettered', 20_000);
    for (const dl of await deadLetters(id)) expect(dl.reason).toMatch(/^gave up: not delivered within the delivery window \(2 s\); last error: .*Service Unavailable|503/);
    expect(h.us.eventsOf(US.token)).toHaveLength(0);
  }, 30_000);
});
