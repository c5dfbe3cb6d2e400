import { CompiledBlueprint } from '../src/blueprints/engine.js';
import type { CanonicalEvent } from '../src/blueprints/canonical-event.js';
import { defaultBlueprint } from '../src/catalog/mixpanel/blueprints/default.js';
import { retailBlueprint } from '../src/catalog/mixpanel/blueprints/retail.js';
import { context, identify, order, page, track } from '../test/fixtures/events.js';

/** Events mapped per second on one core, for a mix of page, track, identify and Order Completed. */
export function benchMapping(seconds = 3): Record<string, number> {
  const agents = [
    context.userAgent,
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36 Edg/121.0.0.0',
  ];
  const mix: CanonicalEvent[] = [];
  for (let i = 0; i < 1000; i++) {
    const c = { ...context, userAgent: agents[i % agents.length] };
    const kind = i % 10;
    if (kind < 4) mix.push(page({ context: c }));
    else if (kind < 8) mix.push(track('Product Viewed', { product_id: `P-${i}`, price: 10, name: 'Shoe' }, { context: c, userId: i % 2 ? `u-${i}` : undefined }));
    else if (kind === 8) mix.push(identify(`u-${i}`, { email: `u${i}@example.com`, name: 'Jane', plan: 'pro' }, { context: c }));
    else mix.push(track('Order Completed', order, { userId: `u-${i}`, context: c }));
  }
  const results: Record<string, number> = {};
  for (const [name, bp] of ([['default', defaultBlueprint], ['retail', retailBlueprint]] as const).filter(([n]) => !process.env.BENCH_VARIANT || n === process.env.BENCH_VARIANT)) {
    const engine = new CompiledBlueprint(bp);
    const ctx = { projectToken: 'tok' };
    for (let w = 0; w < 20; w++) for (const e of mix) engine.map(e, ctx);
    let n = 0;
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(seconds * 1e9);
    while (process.hrtime.bigint() < deadline) {
      for (const e of mix) engine.map(e, ctx);
      n += mix.length;
    }
    const secs = Number(process.hrtime.bigint() - start) / 1e9;
    results[`mapping_${name}_events_per_s`] = Math.round(n / secs);
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(benchMapping(), null, 2));
}
