import { settle, type SettledItem, type SettleInput } from './settle.js';

/** Settling a batch on plain objects: every rule on its own. */
const schedule = { maxAttempts: 3, maxAgeMs: 3600_000, shortRetries: 10, retryBaseMs: 1000, retryMaxMs: 8000, holdMs: 5000 };
const NOW = 1_000_000_000;
const job = (attempt = 0, acceptedAt = NOW - 1000) => ({ orgId: 'o', integrationId: 'i', attempt, acceptedAt });
const item = (job: number, event: number, state: SettledItem['state'], extra: Partial<SettledItem> = {}): SettledItem => ({
  job,
  event,
  endpoint: '/import',
  state,
  ...extra,
});
const input = (over: Partial<SettleInput>): SettleInput => ({
  jobs: [job()],
  items: [],
  refused: [],
  schedule,
  now: NOW,
  itemOf: (it) => ({ endpoint: it.endpoint, body: { event: `e${it.event}` } }),
  storedEvent: (j, e) => Buffer.from(`{"job":${j},"event":${e}}`),
  ...over,
});

describe('settle', () => {
  it('counts delivered objects by kind and canonical events whose every object went through', () => {
    const s = settle(
      input({
        items: [
          item(0, 0, 'done'),
          item(0, 0, 'done', { endpoint: '/engage' }),
          item(0, 1, 'done'),
          item(0, 1, 'retry', { endpoint: '/engage', reason: '503', httpStatus: 503 }),
          item(0, 2, 'done', { endpoint: '/groups' }),
        ],
      }),
    );
    expect(s.delivered).toEqual({ events: 2, profileUpdates: 1, groupUpdates: 1 });
    expect(s.eventsDelivered).toBe(2); // event 1 still has a profile update to send
  });

  it('partial failure: refused items are dead-lettered with every reason, the rest is not resent', () => {
    const s = settle(
      input({
        items: [item(0, 0, 'done'), item(0, 1, 'dead', { reason: 'Mixpanel refused it: bad time', httpStatus: 400 }), item(0, 2, 'done')],
        refused: [{ job: 0, event: 3, reason: 'rejected by the blueprint: anonymousId is missing' }],
      }),
    );
    expect(s.followUps).toEqual([]);
    expect(s.failed).toBe(1);
    expect(s.deadLetters).toEqual([
      { job: 0, event: 3, reason: 'rejected by the blueprint: anonymousId is missing', attempts: 1 },
      { job: 0, event: 1, reason: 'Mixpanel refused it: bad time', attempts: 1 },
    ]);
    expect(s.failures.map((f) => [f.endpoint, f.next, f.error])).toEqual([
      ['/import', 'dead-lettered', 'Mixpanel refused it: bad time'],
      ['blueprint', 'dead-lettered', 'anonymousId is missing'],
    ]);
  });

  it('a transient failure is queued again with just its items, one attempt more, after the back-off', () => {
    const s = settle(input({ items: [item(0, 0, 'done'), item(0, 1, 'retry', { reason: 'Service Unavailable', httpStatus: 503 })], retryAfterMs: 20_000 }));
    expect(s.retried).toBe(1);
    expect(s.followUps).toHaveLength(1);
    const [f] = s.followUps;
    expect(f.data).toMatchObject({ attempt: 1, lastError: 'Service Unavailable', pending: [{ e: 0, item: { endpoint: '/import', body: { event: 'e1' } } }] });
    expect(f.data.events.map(String)).toEqual(['{"job":0,"event":1}']);
    expect(f.startAfter!.getTime() - NOW).toBe(20_000); // Retry-After wins over a shorter back-off
    expect(s.failures[0]).toMatchObject({ next: 'retry', retry_at: new Date(NOW + 20_000).toISOString() });
  });

  it('retries exhausted: dead-lettered with the last error', () => {
    const s = settle(input({ jobs: [job(2)], items: [item(0, 0, 'retry', { reason: 'Bad Gateway', httpStatus: 502 })] }));
    expect(s.followUps).toEqual([]);
    expect(s.deadLetters).toEqual([{ job: 0, event: 0, reason: 'gave up after 3 attempt(s): Bad Gateway', attempts: 3 }]);
  });

  it('past the delivery window: dead-lettered with that reason, whatever attempts are left', () => {
    const s = settle(input({ jobs: [job(0, NOW - 3600_000)], items: [item(0, 0, 'retry', { reason: 'timeout', httpStatus: 0 })] }));
    expect(s.deadLetters[0].reason).toBe('gave up: not delivered within the delivery window (1 h); last error: timeout');
  });

  it('a probe while the breaker is open spends no attempt and waits for the next probe', () => {
    const until = new Date(NOW + 15_000);
    const s = settle(input({ jobs: [job(2)], items: [item(0, 0, 'retry', { reason: '503', httpStatus: 503 })], holdTransientUntil: until }));
    expect(s.deadLetters).toEqual([]);
    expect(s.followUps[0]).toMatchObject({ data: { attempt: 2 }, startAfter: until });
  });

  it('held items (credentials refused) wait for the hold time without spending an attempt', () => {
    const s = settle(input({ jobs: [job(1)], items: [item(0, 0, 'hold', { reason: 'Invalid credentials', httpStatus: 401 })] }));
    expect(s.held).toBe(1);
    expect(s.followUps[0]).toMatchObject({ data: { attempt: 1, lastError: 'held: Mixpanel refused the credentials' }, startAfter: new Date(NOW + 5000) });
    expect(s.failures[0]).toMatchObject({ next: 'held', http_status: 401 });
  });
});
