import { CompiledBlueprint } from '../src/blueprints/engine.js';
import type { CanonicalEvent } from '../src/blueprints/canonical-event.js';
import { defaultBlueprint } from '../src/catalog/mixpanel/blueprints/default.js';
import { retailBlueprint } from '../src/catalog/mixpanel/blueprints/retail.js';
import { context, identify, msgId, order, page, track, TS } from '../test/fixtures/events.js';

/** What mobile SDKs send: app, OS, device, screen, network, library and consent context, no user agent. */
function mobileMix(): CanonicalEvent[] {
  const platforms = [
    { os: { name: 'iOS', version: '17.2' }, device: { manufacturer: 'Apple', model: 'iPhone15,2', name: 'iPhone', adTrackingEnabled: false } },
    { os: { name: 'Android', version: '14' }, device: { manufacturer: 'Google', model: 'Pixel 8', name: 'husky', advertisingId: 'ad-1', adTrackingEnabled: true } },
  ];
  const mix: CanonicalEvent[] = [];
  for (let i = 0; i < 1000; i++) {
    const p = platforms[i % 2];
    const anonymousId = i % 2 ? `5094f5704b9c${String(i).padStart(4, '0')}` : `6f1c1d5e-8a4b-4c3d-9e2f-0a1b2c3d${String(i).padStart(4, '0')}`;
    const c = {
      ...p,
      app: { name: 'Shop', version: '3.2.1', build: '321', namespace: 'com.example.shop' },
      screen: { width: 1170, height: 2532, density: 3 },
      network: { carrier: 'Orange', wifi: i % 3 === 0, cellular: true },
      library: { name: 'analytics-ios', version: '4.1.8' },
      locale: 'fr-FR',
      timezone: 'Europe/Paris',
      ip: '203.0.113.9',
      consent: { analytics: i % 50 !== 0 },
      traits: { email: `u${i}@example.com` },
    } as CanonicalEvent['context'];
    const base = { anonymousId, timestamp: TS, messageId: msgId(), context: c, userId: i % 3 ? `u-${i}` : '' };
    const kind = i % 10;
    if (kind < 5) mix.push({ ...base, type: 'screen', name: 'Product', properties: { product_id: `P-${i}` } });
    else if (kind < 8) mix.push({ ...base, type: 'track', event: 'Product Added', properties: { product_id: `P-${i}`, price: 10, quantity: 1 } });
    else if (kind === 8) mix.push({ ...base, type: 'identify', userId: `u-${i}`, traits: { firstName: 'Jane', lastName: 'Doe', plan: 'pro' } });
    else mix.push({ ...base, type: 'group', userId: `u-${i}`, groupId: `g-${i % 20}`, traits: { name: 'Acme', plan: 'enterprise' } });
  }
  return mix;
}

/** Events mapped per second on one core: a web mix of page, track, identify and Order Completed, and a mobile mix. */
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
  const mobile = mobileMix();
  for (const [name, bp] of ([['default', defaultBlueprint], ['retail', retailBlueprint]] as const).filter(([n]) => !process.env.BENCH_VARIANT || n === process.env.BENCH_VARIANT)) {
    const engine = new CompiledBlueprint(bp);
    results[`mapping_${name}_events_per_s`] = eventsPerSecond(engine, mix, seconds);
    results[`mapping_${name}_mobile_events_per_s`] = eventsPerSecond(engine, mobile, seconds);
  }
  return results;
}

function eventsPerSecond(engine: CompiledBlueprint, mix: CanonicalEvent[], seconds: number): number {
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
  return Math.round(n / secs);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(benchMapping(), null, 2));
}
