import fc from 'fast-check';
import { eventTimeReason } from './event-limits.js';

const NOW = Date.UTC(2026, 11, 8, 12, 0, 0, 250);
const HOUR = 3600_000;

describe('eventTimeReason', () => {
  it('takes times up to an hour ahead of the clock, refuses later ones, whatever their offset or precision', () => {
    const cases: [string, boolean][] = [
      [new Date(NOW).toISOString(), true],
      [new Date(NOW + HOUR).toISOString(), true],
      [new Date(NOW + HOUR + 1).toISOString(), false],
      ['2026-12-08T13:00:00Z', true], // the limit's second, before its 250 ms
      ['2026-12-08T13:00:01Z', false],
      ['2026-12-08T14:00:00+01:00', true], // 13:00Z
      ['2026-12-08T14:00:01+01:00', false],
      ['2026-12-08T12:30:00-00:30', true], // 13:00Z
      ['2026-12-09T00:00:00+12:00', true], // 12:00Z
      ['2026-12-08T13:00:00.250000Z', true],
      ['2026-12-08T13:00:00.251Z', false],
      ['2099-01-01T00:00:00Z', false],
      ['1971-01-01T00:00:00Z', true],
      ['1970-12-31T23:59:59Z', false],
    ];
    for (const [timestamp, taken] of cases) expect([timestamp, eventTimeReason(timestamp, NOW) === undefined]).toEqual([timestamp, taken]);
    expect(eventTimeReason('2099-01-01T00:00:00Z', NOW)).toBe(
      "timestamp 2099-01-01T00:00:00Z is more than 1 hour ahead of this server's clock (Mixpanel refuses events dated over 1 h in the future; a client whose clock is off can send sentAt)",
    );
  });

  it('agrees with parsing the time, for any time and offset around the limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2 * HOUR, max: 2 * HOUR }), fc.integer({ min: -23 * 60, max: 23 * 60 }), fc.boolean(), (delta, offsetMinutes, millis) => {
        const at = NOW + HOUR + delta;
        const local = new Date(at + offsetMinutes * 60_000).toISOString().slice(0, millis ? 23 : 19);
        const sign = offsetMinutes < 0 ? '-' : '+';
        const abs = Math.abs(offsetMinutes);
        const offset = offsetMinutes === 0 ? 'Z' : `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
        const timestamp = local + offset;
        expect(eventTimeReason(timestamp, NOW) === undefined).toBe(Date.parse(timestamp) <= NOW + HOUR);
      }),
    );
  });
});
