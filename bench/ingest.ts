import { eventLimitsReason } from '../src/ingest/event-limits.js';
import { EventValidator } from '../src/ingest/event-validator.js';
import { SPEC_PATH } from '../src/spec.js';
import { context, identify, order, page, track } from '../test/fixtures/events.js';

/**
 * What ingest does per event on one core: parse its bytes, check Mixpanel's and PostgreSQL's limits
 * (the guard walk), validate against the contract. Measured with and without the guard walk, to show
 * what the guard costs.
 */
export function benchIngestChecks(seconds = 3): Record<string, number> {
  const validator = new EventValidator(SPEC_PATH);
  const mix: Buffer[] = [];
  for (let i = 0; i < 1000; i++) {
    const kind = i % 10;
    const e =
      kind < 4
        ? page({ context })
        : kind < 8
          ? track('Product Viewed', { product_id: `P-${i}`, price: 10, name: 'Shoe' }, { context })
          : kind === 8
            ? identify(`u-${i}`, { email: `u${i}@example.com`, name: 'Jane', plan: 'pro' }, { context })
            : track('Order Completed', order, { userId: `u-${i}`, context });
    mix.push(Buffer.from(JSON.stringify(e)));
  }
  const once = (guard: boolean) => {
    for (const bytes of mix) {
      const raw = JSON.parse(bytes.toString('utf8'));
      if ((guard && eventLimitsReason(raw, bytes)) || validator.reason(raw)) throw new Error('bench events must be valid');
    }
  };
  const rate = (guard: boolean, ms: number) => {
    let n = 0;
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(ms * 1e6);
    while (process.hrtime.bigint() < deadline) {
      once(guard);
      n += mix.length;
    }
    return n / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  for (let w = 0; w < 20; w++) once(w % 2 === 0);
  // Alternating short rounds, best of each: this machine's speed drifts more than the guard costs.
  let without = 0;
  let withGuard = 0;
  const rounds = Math.max(2, Math.round(seconds * 2));
  for (let r = 0; r < rounds; r++) {
    without = Math.max(without, rate(false, 500));
    withGuard = Math.max(withGuard, rate(true, 500));
  }
  return {
    ingest_checks_events_per_s: Math.round(withGuard),
    ingest_checks_without_guard_events_per_s: Math.round(without),
    ingest_guard_cost_percent: Math.round((1 - withGuard / without) * 1000) / 10,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(benchIngestChecks(), null, 2));
}
