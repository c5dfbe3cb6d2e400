import { randomUUID } from 'node:crypto';
import { QUEUE } from '../src/delivery/delivery-queue.js';
import { page, track } from './fixtures/events.js';
import { startHarness, US, type Harness } from './support/delivery-harness.js';

/** No single event can stall a batch: each is refused at ingest, or isolated and dead-lettered with its reason. */
let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(() => h.close());

const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const deadLetters = async (id: string) => {
  const res = await h.t.request.get(`/v1/admin/integrations/${id}/dead-letters`).set(h.t.auth('acme', 'viewer'));
  expect(res.status).toBe(200);
  return res.body.data as { reason: string; event: Record<string, unknown> }[];
};
const postRaw = (body: string) => h.t.request.post('/v1/events').set('Authorization', `Bearer ${h.ingestKey}`).set('Content-Type', 'application/json').send(body);

describe('poison events at ingest', () => {
  it('are refused one by one with the reason, and their neighbours are delivered', async () => {
    await h.install('Mixpanel');
    const base = (extra: string) => `{"type":"track","event":"Poison","anonymousId":"${randomUUID()}","properties":${extra}}`;
    const good = () => JSON.stringify(page());
    const events = [
      good(),
      base(`{"deep":${nested(10_000)}}`),
      base(`{"deeper":${nested(100_000)}}`),
      base('{"nul":"a\\u0000b"}'),
      base('{"lone":"a\\ud800b"}'),
      base('{"k\\u0000ey":1}'),
      base('{"huge":1e400}'),
      base('{"__proto__":{"polluted":true}}'),
      base(`{"four_levels":{"a":{"b":{"c":{"d":1}}}}}`),
      base(`{"wide":[${Array.from({ length: 300 }, (_, i) => i).join(',')}]}`),
      base(`{"big":"${'x'.repeat(1_000_000)}"}`),
      JSON.stringify(track('Long text is fine', { text: 'y'.repeat(100_000) })),
      good(),
    ];
    const res = await postRaw(`{"events":[${events.join(',')}]}`);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(3);
    const reasons = Object.fromEntries((res.body.rejected as { index: number; reason: string }[]).map((r) => [r.index, r.reason]));
    expect(reasons).toEqual({
      1: expect.stringMatching(/^properties\.deep\.a\.a\.a is nested deeper than 3 levels/),
      2: expect.stringMatching(/nested deeper than 3 levels/),
      3: 'properties.nul holds a NUL character',
      4: 'properties.lone holds invalid Unicode (an unpaired surrogate)',
      5: 'a key of properties holds a NUL character',
      6: 'properties.huge is a number JSON cannot carry',
      7: 'properties has a key named __proto__',
      8: expect.stringMatching(/^properties\.four_levels\.a\.b\.c is nested deeper than 3 levels/),
      9: "properties.wide has 300 items (Mixpanel's limit is 254)",
      10: expect.stringMatching(/^event is \d+ bytes of JSON \(limit 1 MB\)$/),
    });
    await h.until(() => h.us.eventsOf(US.token).length === 3, 'the good events');
    expect(h.us.eventsOf(US.token).map((e) => e.event).sort()).toEqual(['Long text is fine', 'Page Viewed', 'Page Viewed']);
  });

  it('a body parsed whole (any layout the fast path does not cut) is checked the same way', async () => {
    await h.install('Mixpanel');
    const body = `{"\\u0065vents":[${JSON.stringify(page())},{"type":"page","anonymousId":"x","properties":{"n":"\\u0000"}}]}`;
    const res = await postRaw(body);
    expect(res.body).toEqual({ accepted: 1, rejected: [{ index: 1, reason: 'properties.n holds a NUL character' }] });
  });
});

describe('poison in delivery', () => {
  it('an event Mixpanel refuses with the whole request is isolated by halving; its neighbours go through', async () => {
    const id = await h.install('Mixpanel');
    h.us.faults = { poisonProperty: 'poison' };
    const events = Array.from({ length: 8 }, (_, i) => track('E', i === 5 ? { poison: true } : { i }));
    await h.post(events);
    await h.until(async () => (await deadLetters(id)).length === 1, 'the poison event dead-lettered');
    await h.until(() => h.us.eventsOf(US.token).length === 7, 'its neighbours delivered');
    const [dl] = await deadLetters(id);
    expect(dl.reason).toBe('Mixpanel refused it: unable to process property poison');
    expect(dl.event.messageId).toBe(events[5].messageId);
    expect(h.us.state.duplicates).toBe(0);
  });

  it('an event that makes mapping throw (queued before ingest refused such events) is dead-lettered; the batch goes on', async () => {
    const id = await h.install('Mixpanel');
    // Traits pass through to the profile, whose size check walks them: 200,000 levels overflow the stack.
    const deep = Buffer.from(`{"type":"identify","userId":"u-1","anonymousId":"${randomUUID()}","messageId":"m-deep","timestamp":"2026-11-28T10:00:00Z","traits":{"x":${nested(200_000)}}}`);
    const good = [page(), page()];
    await h.t.services.queue.enqueue([
      { data: { orgId: 'acme', integrationId: id, events: [good[0], deep, good[1]], attempt: 0, acceptedAt: Date.now() } },
    ]);
    await h.until(() => h.us.eventsOf(US.token).length === 2, 'the good events');
    await h.until(async () => (await deadLetters(id)).length === 1, 'the deep event dead-lettered');
    const [dl] = await deadLetters(id);
    expect(dl.reason).toMatch(/could not be delivered: Maximum call stack size exceeded/);
    expect(dl.event.unstorable_event).toBe('the event could not be stored as it was: nested deeper than 64 levels');
  });

  it('a job whose payload cannot be read is dead-lettered whole; jobs after it are delivered', async () => {
    const id = await h.install('Mixpanel');
    await h.t.services.queue.boss.insert(QUEUE, [
      { group: { id }, data: { orgId: 'acme', integrationId: id, attempt: 0, acceptedAt: Date.now(), count: 2, format: 'ndjson', payload: 'bm90IGd6aXA=' } },
    ]);
    await h.post([page()]);
    await h.until(() => h.us.eventsOf(US.token).length === 1, 'the next job');
    await h.until(async () => (await deadLetters(id)).length === 2, 'the unreadable job dead-lettered');
    for (const dl of await deadLetters(id)) {
      expect(dl.reason).toMatch(/its job's payload cannot be read/);
      expect(dl.event.unreadable_event).toMatch(/could not be read/);
    }
  });
});
