import { CLOCK_SKEW_THRESHOLD_MS, completeEvent, eventTime, needsCompleting } from './complete-event.js';

/** Timestamps as SDKs send them (issue 11, point 10). */
const RECEIVED = '2026-11-28T10:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(RECEIVED) + ms).toISOString();

describe('event time', () => {
  it('keeps timestamp when there is no sentAt', () => {
    expect(eventTime({ timestamp: at(-5000) }, RECEIVED)).toBe(at(-5000));
  });

  it('falls back to originalTimestamp when timestamp is absent or empty, then to the time it was received', () => {
    expect(eventTime({ originalTimestamp: at(-9000) }, RECEIVED)).toBe(at(-9000));
    expect(eventTime({ timestamp: '', originalTimestamp: at(-9000) }, RECEIVED)).toBe(at(-9000));
    expect(eventTime({ timestamp: '' }, RECEIVED)).toBe(RECEIVED);
  });

  it("takes a wrong client clock out the way Segment does: receivedAt − (sentAt − originalTimestamp)", () => {
    // The phone's clock is 2 hours fast: it says it sent at +2h, the event happened 10 s before that.
    const e = { originalTimestamp: at(2 * 3600_000 - 10_000), sentAt: at(2 * 3600_000) };
    expect(eventTime(e, RECEIVED)).toBe(at(-10_000));
    // analytics.js sends its clock's time as timestamp: the same correction applies to it.
    expect(eventTime({ timestamp: e.originalTimestamp, sentAt: e.sentAt }, RECEIVED)).toBe(at(-10_000));
    // A receivedAt on the event (set by the collector) is the platform's receive time.
    expect(eventTime({ ...e, receivedAt: at(60_000) }, RECEIVED)).toBe(at(50_000));
  });

  it('leaves network and queueing time alone, and rounds the correction so a resent batch gets the same time', () => {
    const small = { timestamp: at(-3000), sentAt: at(-1000) };
    expect(eventTime(small, RECEIVED)).toBe(at(-3000));
    const skewed = { originalTimestamp: at(-3_600_000 - 2000), sentAt: at(-3_600_000) };
    const first = eventTime(skewed, RECEIVED);
    const resent = eventTime(skewed, at(180)); // the same batch, 180 ms later
    expect(resent).toBe(first);
    expect(CLOCK_SKEW_THRESHOLD_MS).toBeGreaterThanOrEqual(10_000);
  });

  it('completeEvent fills messageId and the time once; needsCompleting says when ingest must', () => {
    expect(needsCompleting({ messageId: 'm', timestamp: RECEIVED })).toBe(false);
    expect(needsCompleting({ messageId: 'm', timestamp: '' })).toBe(true);
    expect(needsCompleting({ messageId: 'm', timestamp: RECEIVED, sentAt: RECEIVED })).toBe(true);
    const e = completeEvent({ originalTimestamp: at(-1000) } as { messageId?: string; timestamp?: string; originalTimestamp: string }, RECEIVED);
    expect(e.timestamp).toBe(at(-1000));
    expect(e.messageId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
