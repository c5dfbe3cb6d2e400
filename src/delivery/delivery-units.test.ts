import { nextAttemptDelayMs, retryDelayMs } from './backoff.js';
import { Breaker } from './breaker.js';
import { Gate } from './gate.js';
import { WorkSignal } from './job-notifications.js';
import { classify } from '../destinations/mixpanel/outcome.js';
import { MAX_ITEMS, planBatches } from '../destinations/mixpanel/requests.js';
import type { MixpanelItem } from '../destinations/mixpanel/wire.js';

describe('retryDelayMs (Mixpanel: 2 s doubling to 60 s, 1–5 s jitter)', () => {
  it.each([
    [1, 0, 3000],
    [1, 1, 7000],
    [2, 0, 5000],
    [6, 0, 61000],
    [10, 1, 65000],
  ])('attempt %d, random %d → %d ms', (attempt, r, expected) => {
    expect(retryDelayMs(attempt, 2000, 60000, undefined, () => r)).toBe(expected);
  });

  it('honours a longer Retry-After, ignores a shorter one', () => {
    expect(retryDelayMs(1, 2000, 60000, 30000, () => 0)).toBe(30000);
    expect(retryDelayMs(1, 2000, 60000, 10, () => 0)).toBe(3000);
  });
});

describe('Gate', () => {
  it('bounds requests in flight, halves on 429 and grows back by one per success', async () => {
    const gate = new Gate(4);
    let running = 0;
    let peak = 0;
    const task = () =>
      gate.run(async () => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
      });
    await Promise.all(Array.from({ length: 20 }, task));
    expect(peak).toBe(4);
    gate.rateLimited(0);
    expect(gate.limit).toBe(2);
    gate.rateLimited(0);
    gate.rateLimited(0);
    expect(gate.limit).toBe(1);
    gate.succeeded();
    gate.succeeded();
    expect(gate.limit).toBe(3);
  });

  it('holds new requests back while paused', async () => {
    const gate = new Gate(2);
    gate.rateLimited(100);
    const started = Date.now();
    await gate.run(async () => {});
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });
});

describe('classify (what a Mixpanel answer means)', () => {
  const res = (status: number, body: unknown, extra: object = {}) => ({ status, body: JSON.stringify(body), durationMs: 1, ...extra });
  it('200 → delivered; /engage status 0 → rejected', () => {
    expect(classify('/import', res(200, { code: 200, num_records_imported: 2, status: 'OK' }), 2)).toEqual({ kind: 'delivered' });
    expect(classify('/engage', res(200, { status: 0, error: '$token, missing or invalid' }), 2)).toEqual({
      kind: 'rejected',
      message: '$token, missing or invalid',
    });
  });
  it('a 2xx that is not Mixpanel\'s JSON (a proxy\'s page, a wrong URL) → retry, saying so', () => {
    for (const body of ['<html><body>Welcome to nginx!</body></html>', '', 'OK']) {
      const out = classify('/import', { status: 200, body, durationMs: 1 }, 2);
      expect(out).toMatchObject({ kind: 'retry', rateLimited: false });
      expect((out as { message: string }).message).toMatch(/^HTTP 200 without Mixpanel's JSON answer \((it began "|an empty body).*is the Mixpanel URL right/);
    }
    expect(classify('/engage', { status: 204, body: '', durationMs: 1 }, 1).kind).toBe('retry');
  });
  it('400 with failed_records → partial with per-index messages', () => {
    const out = classify(
      '/import',
      res(400, { code: 400, error: 'some data points in the request failed validation', failed_records: [{ index: 1, field: 'properties.time', message: 'bad' }] }),
      3,
    );
    expect(out).toEqual({ kind: 'partial', failed: new Map([[1, 'properties.time: bad']]) });
  });
  it('401/403 → auth; 413 → split (or rejected for one item); 429/5xx/no answer → retry', () => {
    expect(classify('/import', res(401, { error: 'Invalid credentials' }), 1)).toEqual({ kind: 'auth', message: 'Invalid credentials' });
    expect(classify('/import', res(413, { error: 'too big' }), 10)).toEqual({ kind: 'split' });
    expect(classify('/import', res(413, { error: 'too big' }), 1).kind).toBe('rejected');
    expect(classify('/import', res(429, { error: 'slow down' }, { retryAfterMs: 2000 }), 1)).toEqual({
      kind: 'retry',
      message: 'slow down',
      retryAfterMs: 2000,
      rateLimited: true,
    });
    expect(classify('/import', res(503, {}), 1)).toMatchObject({ kind: 'retry', rateLimited: false });
    expect(classify('/import', { status: 0, body: '', error: 'ETIMEDOUT: timeout', durationMs: 1 }, 1)).toMatchObject({
      kind: 'retry',
      message: 'ETIMEDOUT: timeout',
    });
  });
});

describe('planBatches', () => {
  const ev = (i: number, size = 10): MixpanelItem => ({ endpoint: '/import', body: { event: 'E', properties: { i, pad: 'x'.repeat(size) } } });
  it('groups by endpoint and keeps order', () => {
    const items: MixpanelItem[] = [ev(1), { endpoint: '/engage', body: { $set: { a: 1 } } }, ev(2)];
    const batches = planBatches(items, (x) => x);
    expect(batches.map((b) => [b.endpoint, b.entries.length])).toEqual([
      ['/import', 2],
      ['/engage', 1],
    ]);
    expect(JSON.parse(batches[0].body.toString('utf8')).map((e: { properties: { i: number } }) => e.properties.i)).toEqual([1, 2]);
  });
  it('cuts at 2000 events, 200 group updates, and the byte limit', () => {
    const many = Array.from({ length: 4500 }, (_, i) => ev(i));
    expect(planBatches(many, (x) => x).map((b) => b.entries.length)).toEqual([2000, 2000, 500]);
    const groups = Array.from({ length: 450 }, (): MixpanelItem => ({ endpoint: '/groups', body: { $set: {} } }));
    expect(planBatches(groups, (x) => x).map((b) => b.entries.length)).toEqual([MAX_ITEMS['/groups'], 200, 50]);
    const big = Array.from({ length: 10 }, (_, i) => ev(i, 1000));
    const cut = planBatches(big, (x) => x, 3500);
    expect(cut.every((b) => Buffer.byteLength(b.body) <= 3500)).toBe(true);
    expect(cut.reduce((n, b) => n + b.entries.length, 0)).toBe(10);
  });
  it('counts UTF-8 bytes, not characters, and fills bodies up to the limit exactly', () => {
    const wide = Array.from({ length: 40 }, (_, i): MixpanelItem => ({ endpoint: '/import', body: { event: 'É', properties: { i, pad: 'ü€😀'.repeat(20 + i) } } }));
    for (const limit of [1000, 4096, 65536 + 7]) {
      const cut = planBatches(wide, (x) => x, limit);
      expect(cut.every((b) => b.body.length <= limit)).toBe(true);
      expect(cut.flatMap((b) => JSON.parse(b.body.toString('utf8')) as unknown[])).toEqual(wide.map((w) => w.body));
      // each body but the last was full: the next item would not have fitted
      cut.slice(0, -1).forEach((b, k) => {
        const next = cut[k + 1].entries[0].body;
        expect(b.body.length + 1 + Buffer.byteLength(JSON.stringify(next))).toBeGreaterThan(limit);
      });
    }
  });
  it('sends an item larger than the limit alone (Mixpanel then answers 413)', () => {
    const items = [ev(1), ev(2, 5000), ev(3)];
    const cut = planBatches(items, (x) => x, 3500);
    expect(cut.map((b) => b.entries.length)).toEqual([1, 1, 1]);
    expect(JSON.parse(cut[1].body.toString('utf8'))).toEqual([items[1].body]);
  });
});

describe('the retry schedule over the delivery window', () => {
  const s = { maxAttempts: 5, maxAgeMs: 24 * 3600_000, shortRetries: 3, retryBaseMs: 2000, retryMaxMs: 60_000 };
  const noJitter = () => 0;
  it('follows Mixpanel\'s short back-off first, then spreads the remaining attempts over what is left of the window', () => {
    const t0 = 0;
    expect(nextAttemptDelayMs(1, t0, 0, s, undefined, noJitter)).toBe(2000 + 1000);
    expect(nextAttemptDelayMs(2, t0, 10_000, s, undefined, noJitter)).toBe(4000 + 1000);
    // after the 3rd attempt, 2 remain: the next comes after a third of the time left, the last after half of the rest
    const third = nextAttemptDelayMs(3, t0, 60_000, s, undefined, noJitter);
    expect(third).toBe(Math.floor((24 * 3600_000 - 60_000) / 3));
    const fourthAt = 60_000 + third;
    const fourth = nextAttemptDelayMs(4, t0, fourthAt, s, undefined, noJitter);
    expect(fourthAt + fourth).toBeLessThan(24 * 3600_000); // the last attempt is still inside the window
    expect(fourth).toBe(Math.floor((24 * 3600_000 - fourthAt) / 2));
  });
  it('never comes sooner than a Retry-After', () => {
    expect(nextAttemptDelayMs(1, 0, 0, s, 90_000, noJitter)).toBe(90_000);
  });
});

describe('the circuit breaker', () => {
  it('opens after N transient failures in a row, lets one probe through per interval, and closes on the first success', () => {
    const b = new Breaker(3, 1000);
    expect(b.record('transient', 0)).toBeUndefined();
    expect(b.record('other', 1)).toBeUndefined(); // a refusal says nothing about Mixpanel being down
    expect(b.record('transient', 2)).toBeUndefined();
    expect(b.record('transient', 3)).toBe('opened');
    expect([b.open, b.since?.getTime(), b.probeAt.getTime()]).toEqual([true, 3, 1003]);
    expect(b.allow(500)).toBe(false);
    expect(b.allow(1003)).toBe(true); // the probe
    expect(b.allow(1004)).toBe(false); // only one per interval
    expect(b.record('transient', 1100)).toBeUndefined();
    expect(b.allow(2003)).toBe(true);
    expect(b.record('ok', 2100)).toBe('closed');
    expect([b.open, b.allow(2101)]).toEqual([false, true]);
    expect(b.record('transient', 2200)).toBeUndefined(); // counting starts again
  });
  it('a success resets the count', () => {
    const b = new Breaker(2, 1000);
    b.record('transient', 0);
    b.record('ok', 1);
    expect(b.record('transient', 2)).toBeUndefined();
    expect(b.record('transient', 3)).toBe('opened');
  });
});

describe('WorkSignal', () => {
  const settledWithin = async (p: Promise<void>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

  it('wakes one waiting loop per wake, keeps a wake nobody waited for, and wakes all when stopping', async () => {
    const signal = new WorkSignal();
    const a = signal.wait(10_000);
    const b = signal.wait(10_000);
    signal.wake();
    expect(await settledWithin(a, 50)).toBe(true);
    expect(await settledWithin(b, 50)).toBe(false); // one notification, one fetch
    signal.wake();
    expect(await settledWithin(b, 50)).toBe(true);
    signal.wake(); // nobody waits: the next wait returns at once
    expect(await settledWithin(signal.wait(10_000), 50)).toBe(true);
    expect(await settledWithin(signal.wait(10_000), 50)).toBe(false); // kept once only
    const [c, d] = [signal.wait(10_000), signal.wait(10_000)];
    signal.wakeAll();
    expect(await settledWithin(Promise.all([c, d]).then(() => {}), 50)).toBe(true);
  });

  it('ends a wait after its time (the sweep)', async () => {
    const signal = new WorkSignal();
    expect(await settledWithin(signal.wait(20), 500)).toBe(true);
  });
});
