import type { Blueprint } from './blueprint.js';
import { BlueprintCache, CompiledBlueprint, type MappedEvent } from './engine.js';
import { insertId } from './insert-id.js';
import { defaultBlueprint } from '../catalog/mixpanel/blueprints/default.js';
import { retailBlueprint } from '../catalog/mixpanel/blueprints/retail.js';
import { ANON, context, contextProps, firstTouchProps, identify, order, page, track, TS, TS_MS } from '../../test/fixtures/events.js';

const ctx = { projectToken: 'abc123def456789' };
const simplified = (bp: Blueprint): Blueprint => ({ ...bp, identity: { merge_api: 'simplified' } });

function system(messageId: string, distinctId: string, userId?: string, role = '') {
  return {
    token: ctx.projectToken,
    time: TS_MS,
    distinct_id: distinctId,
    $insert_id: insertId(messageId, role),
    $device_id: ANON,
    ...(userId ? { $user_id: userId } : {}),
  };
}

const variants: [string, Blueprint][] = [
  ['default', defaultBlueprint],
  ['retail', retailBlueprint],
];

describe.each(variants)('%s blueprint', (_name, blueprint) => {
  const engine = new CompiledBlueprint(blueprint);

  it('page → Page Viewed with URL, title and referrer', () => {
    const e = page({ properties: { section: 'catalog' } });
    expect(engine.map(e, ctx)).toEqual<MappedEvent>({
      warnings: [],
      items: [
        {
          endpoint: '/import',
          body: {
            event: 'Page Viewed',
            properties: {
              ...contextProps,
              section: 'catalog',
              'Page Name': 'Product',
              current_page_title: 'Red Shoes',
              current_url_path: '/products/42',
              current_url_search: '?color=red',
              ...system(e.messageId, ANON),
            },
          },
        },
      ],
    });
  });

  it('page properties stand in when the page context is missing', () => {
    const e = page({
      context: {},
      properties: { url: 'https://a.example/x', title: 'X', referrer: 'https://b.example/', path: '/x' },
    });
    const props = engine.map(e, ctx).items[0].body.properties;
    expect(props).toEqual({
      mp_lib: 'datafly-signal',
      $lib_version: contextProps.$lib_version,
      'Page Name': 'Product',
      $current_url: 'https://a.example/x',
      $referrer: 'https://b.example/',
      $referring_domain: 'b.example',
      current_page_title: 'X',
      current_url_path: '/x',
      ...system(e.messageId, ANON),
    });
  });

  it('custom events pass through with their own name and properties', () => {
    const e = track('Newsletter Signed Up', { list: 'weekly', double_opt_in: true });
    expect(engine.map(e, ctx).items).toEqual([
      {
        endpoint: '/import',
        body: {
          event: 'Newsletter Signed Up',
          properties: { ...contextProps, list: 'weekly', double_opt_in: true, ...system(e.messageId, ANON) },
        },
      },
    ]);
  });

  it('known user: userId is distinct_id and $user_id, anonymousId stays $device_id', () => {
    const e = track('Product Viewed', { product_id: 'P-1' }, { userId: 'user-123' });
    const props = engine.map(e, ctx).items[0].body.properties as Record<string, unknown>;
    expect(props).toMatchObject({ distinct_id: 'user-123', $user_id: 'user-123', $device_id: ANON });
  });

  it('identify (original merge) → $identify event and /engage $set exactly like the guide', () => {
    const e = identify('user-123', { email: 'jane@example.com', name: 'Jane Smith', plan: 'premium', company: 'Acme Inc' });
    expect(engine.map(e, ctx)).toEqual<MappedEvent>({
      warnings: [],
      items: [
        {
          endpoint: '/import',
          body: {
            event: '$identify',
            properties: {
              ...contextProps,
              ...system(e.messageId, 'user-123', 'user-123', '$identify'),
              $identified_id: 'user-123',
              $anon_id: ANON,
            },
          },
        },
        {
          endpoint: '/engage',
          body: {
            $token: 'abc123def456789',
            $distinct_id: 'user-123',
            $ip: '203.0.113.9',
            $time: TS_MS,
            $set: { $email: 'jane@example.com', $name: 'Jane Smith', plan: 'premium', company: 'Acme Inc' },
          },
        },
        {
          endpoint: '/engage',
          body: { $token: 'abc123def456789', $distinct_id: 'user-123', $ip: '203.0.113.9', $time: TS_MS, $set_once: firstTouchProps },
        },
      ],
    });
  });

  it('maps common trait names to reserved profile properties, the rest as they are', () => {
    const e = identify('user-9', {
      firstName: 'Jane',
      last_name: 'Smith',
      phone: '+33123456789',
      avatar: 'https://img.example/j.png',
      createdAt: '2025-01-01T00:00:00Z',
      address: { city: 'Paris', state: 'IDF', country: 'FR', postal_code: '75001' },
      timezone: 'Europe/Paris',
      password: 'never-sent',
      favourite_colour: 'red',
    });
    const engage = engine.map(e, ctx).items.find((i) => i.endpoint === '/engage');
    expect(engage?.body.$set).toEqual({
      $name: 'Jane Smith',
      $first_name: 'Jane',
      $last_name: 'Smith',
      $phone: '+33123456789',
      $avatar: 'https://img.example/j.png',
      $created: '2025-01-01T00:00:00Z',
      $city: 'Paris',
      $region: 'IDF',
      $country_code: 'FR',
      postal_code: '75001',
      $timezone: 'Europe/Paris',
      favourite_colour: 'red',
    });
  });

  it('identify (simplified merge) → no $identify; $set on the user', () => {
    const e = identify('user-123', { email: 'jane@example.com' });
    expect(new CompiledBlueprint(simplified(blueprint)).map(e, ctx)).toEqual<MappedEvent>({
      warnings: [],
      items: [
        {
          endpoint: '/engage',
          body: { $token: 'abc123def456789', $distinct_id: 'user-123', $ip: '203.0.113.9', $time: TS_MS, $set: { $email: 'jane@example.com' } },
        },
        {
          endpoint: '/engage',
          body: { $token: 'abc123def456789', $distinct_id: 'user-123', $ip: '203.0.113.9', $time: TS_MS, $set_once: firstTouchProps },
        },
      ],
    });
  });

  it('simplified merge: anonymous distinct_id is $device:<anonymousId>, known is the user id', () => {
    const engineS = new CompiledBlueprint(simplified(blueprint));
    const anon = track('Product Viewed', {});
    expect(engineS.map(anon, ctx).items[0].body.properties).toMatchObject({ distinct_id: `$device:${ANON}`, $device_id: ANON });
    expect(engineS.map(anon, ctx).items[0].body.properties).not.toHaveProperty('$user_id');
    const known = track('Product Viewed', {}, { userId: 'u-1' });
    expect(engineS.map(known, ctx).items[0].body.properties).toMatchObject({ distinct_id: 'u-1', $user_id: 'u-1', $device_id: ANON });
  });

  it('alias → $create_alias in original merge; skipped with a reason in simplified', () => {
    const e = { type: 'alias' as const, userId: 'user-123', previousId: 'old-id-7', anonymousId: ANON, timestamp: TS, messageId: 'm-alias-1' };
    expect(engine.map(e, ctx).items).toEqual([
      {
        endpoint: '/import',
        body: {
          event: '$create_alias',
          properties: { token: 'abc123def456789', time: TS_MS, distinct_id: 'old-id-7', alias: 'user-123', $insert_id: insertId('m-alias-1', 'alias') },
        },
      },
    ]);
    const s = new CompiledBlueprint(simplified(blueprint)).map(e, ctx);
    expect(s.items).toEqual([]);
    expect(s.skipped).toMatch(/Simplified ID Merge/);
  });

  it('group → /groups $set with $group_key and $group_id', () => {
    const e = { type: 'group' as const, groupId: 'acme-inc', traits: { name: 'Acme', plan: 'enterprise' }, anonymousId: ANON, timestamp: TS, messageId: 'm-g' };
    expect(engine.map(e, ctx).items).toEqual([
      {
        endpoint: '/groups',
        body: { $token: 'abc123def456789', $group_key: 'company', $group_id: 'acme-inc', $set: { name: 'Acme', plan: 'enterprise' } },
      },
    ]);
    expect(engine.map({ ...e, groupId: undefined }, ctx).rejected).toMatch(/groupId/);
  });

  it('Order Completed → $amount, $currency, Order ID, Product ID and a $transactions append', () => {
    const e = track('Order Completed', order, { userId: 'user-123' });
    const out = engine.map(e, ctx);
    expect(out.warnings).toEqual([]);
    const [event, append] = out.items;
    expect(event.endpoint).toBe('/import');
    expect(event.body.event).toBe('Order Completed');
    expect(event.body.properties).toMatchObject({
      $amount: 59.98,
      $currency: 'EUR',
      'Order ID': 'ORD-1001',
      'Product ID': ['P-1', 'P-2'],
      distinct_id: 'user-123',
      $insert_id: e.messageId,
    });
    expect(append).toEqual({
      endpoint: '/engage',
      body: {
        $token: 'abc123def456789',
        $distinct_id: 'user-123',
        $ip: '203.0.113.9',
        $time: TS_MS,
        $append: { $transactions: { $amount: 59.98, $time: TS, $currency: 'EUR', 'Order ID': 'ORD-1001' } },
      },
    });
  });

  it('revenue falls back to `revenue`, and warns when neither total nor revenue is there', () => {
    const withRevenue = engine.map(track('Order Completed', { order_id: 'O', revenue: '12.5' }, { userId: 'u' }), ctx);
    expect(withRevenue.items[0].body.properties).toMatchObject({ $amount: 12.5 });
    const none = engine.map(track('Order Completed', { order_id: 'O' }, { userId: 'u' }), ctx);
    expect(none.items).toHaveLength(1);
    expect(none.items[0].body.properties).not.toHaveProperty('$amount');
    expect(none.warnings[0]).toMatch(/no numeric total or revenue/);
  });

  it('an anonymous order is tracked but not attached to a profile (with a warning)', () => {
    const out = engine.map(track('Order Completed', order), ctx);
    expect(out.items.map((i) => i.endpoint)).not.toContain('/engage');
    expect(out.warnings[0]).toMatch(/anonymous/);
  });

  it.each(['Product Viewed', 'Product Added', 'Product Removed', 'Checkout Started', 'Products Searched'])(
    '%s keeps its name with its details as properties',
    (name) => {
      const e = track(name, { product_id: 'P-1', query: 'red shoes', price: 10 });
      const item = engine.map(e, ctx).items[0];
      expect(item.body.event).toBe(name);
      expect(item.body.properties).toMatchObject({ ...system(e.messageId, ANON) });
    },
  );
});

describe('retail specifics', () => {
  const engine = new CompiledBlueprint(retailBlueprint);
  /** order.products[0] under the retail blueprint's readable names. */
  const firstProductProps = {
    'Product ID': 'P-1',
    SKU: 'SKU-1',
    'Product Name': 'Red Shoes',
    Category: 'Shoes',
    Brand: 'Acme',
    Variant: 'Red',
    Price: 19.99,
    Quantity: 2,
  };

  it('product events use readable names', () => {
    const e = track('Product Added', { ...order.products[0], currency: 'EUR', coupon: 'X' });
    expect(engine.map(e, ctx).items[0].body.properties).toEqual({
      ...contextProps,
      coupon: 'X',
      ...firstProductProps,
      Currency: 'EUR',
      ...system(e.messageId, ANON),
    });
  });

  it('Checkout Started carries cart value, currency and item count', () => {
    const e = track('Checkout Started', { value: '59.98', currency: 'EUR', products: order.products });
    expect(engine.map(e, ctx).items[0].body.properties).toMatchObject({
      'Cart Value': 59.98,
      Currency: 'EUR',
      'Item Count': 2,
      'Product IDs': ['P-1', 'P-2'],
    });
  });

  it('Order Completed → one Product Purchased per product with stable distinct ids, and lifetime $add', () => {
    const e = track('Order Completed', order, { userId: 'user-123' });
    const out = engine.map(e, ctx);
    expect(out.items.map((i) => [i.endpoint, i.body.event ?? Object.keys(i.body).pop()])).toEqual([
      ['/import', 'Order Completed'],
      ['/engage', '$append'],
      ['/engage', '$add'],
      ['/import', 'Product Purchased'],
      ['/import', 'Product Purchased'],
    ]);
    expect(out.items[2].body.$add).toEqual({ 'Lifetime Orders': 1, 'Lifetime Revenue': 59.98 });
    expect(out.items[3].body.properties).toEqual({
      ...contextProps,
      ...firstProductProps,
      'Order ID': 'ORD-1001',
      Currency: 'EUR',
      ...system(e.messageId, 'user-123', 'user-123', 'item:0'),
    });
    expect(out.items[4].body.properties).toMatchObject({ 'Product ID': 'P-2', Price: 20, $insert_id: insertId(e.messageId, 'item:1') });
    const ids = out.items.filter((i) => i.endpoint === '/import').map((i) => (i.body.properties as { $insert_id: string }).$insert_id);
    expect(new Set(ids).size).toBe(3);
    expect(engine.map(e, ctx)).toEqual(out);
  });
});

describe('guard rails', () => {
  const engine = new CompiledBlueprint(defaultBlueprint);

  it.each(['null', 'undefined', 'anonymous', '00000000-0000-0000-0000-000000000000', '0', '-1', '[]', 'N/A', ''])(
    'rejects anonymousId %j',
    (bad) => {
      const out = engine.map(track('X', {}, { anonymousId: bad }), ctx);
      expect(out.rejected).toMatch(/anonymousId/);
      expect(out.items).toEqual([]);
    },
  );

  it('rejects a missing anonymousId, an invalid userId, a missing messageId or timestamp', () => {
    expect(engine.map(track('X', {}, { anonymousId: undefined as unknown as string }), ctx).rejected).toBe('anonymousId is missing');
    expect(engine.map(track('X', {}, { userId: 'false' }), ctx).rejected).toMatch(/userId "false"/);
    expect(engine.map(track('X', {}, { messageId: '' }), ctx).rejected).toMatch(/messageId/);
    expect(engine.map(track('X', {}, { timestamp: 'yesterday' }), ctx).rejected).toMatch(/timestamp/);
    expect(engine.map(track('', {}), ctx).rejected).toMatch(/no event name/);
    expect(engine.map({ ...track('X', {}), type: 'tv' as 'track' }, ctx).rejected).toMatch(/type "tv"/);
  });

  it('rejects events dated before 1971-01-01, which /import refuses whenever they are sent; 1971 on is kept', () => {
    expect(engine.map({ ...track('X', {}), timestamp: '1960-05-01T00:00:00Z' }, ctx).rejected).toMatch(/timestamp is before 1971-01-01/);
    expect(engine.map({ ...track('X', {}), timestamp: '1970-12-31T23:59:59.999Z' }, ctx).rejected).toMatch(/before 1971-01-01/);
    const first = engine.map({ ...track('X', {}), timestamp: '1971-01-01T00:00:00Z' }, ctx);
    expect(first.rejected).toBeUndefined();
    expect(first.items[0].body.properties).toMatchObject({ time: Date.UTC(1971, 0, 1) });
  });

  it('rejects 255 or more properties', () => {
    const props = Object.fromEntries(Array.from({ length: 240 }, (_, i) => [`p${i}`, i]));
    expect(engine.map(track('X', props), ctx).rejected).toMatch(/properties \(limit 254\)/);
    const fewer = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`p${i}`, i]));
    expect(engine.map(track('X', fewer), ctx).rejected).toBeUndefined();
  });

  it('rejects objects nested deeper than 3 levels, big nested objects and long arrays', () => {
    expect(engine.map(track('X', { a: { b: { c: { d: { e: 1 } } } } }), ctx).rejected).toMatch(/"a.b.c.d" is nested deeper than 3/);
    expect(engine.map(track('X', { a: { b: { c: { d: 1 } } } }), ctx).rejected).toBeUndefined();
    expect(engine.map(track('X', { list: Array.from({ length: 255 }, (_, i) => i) }), ctx).rejected).toMatch(/255 items/);
    const wide = Object.fromEntries(Array.from({ length: 255 }, (_, i) => [`k${i}`, i]));
    expect(engine.map(track('X', { wide }), ctx).rejected).toMatch(/255 keys/);
  });

  it('rejects an event over 1 MB of JSON, leaves long strings to Mixpanel', () => {
    expect(engine.map(track('X', { blob: 'x'.repeat(1_000_000) }), ctx).rejected).toMatch(/limit 1 MB/);
    expect(engine.map(track('X', { text: 'x'.repeat(10_000) }), ctx).items[0].body.properties).toMatchObject({ text: 'x'.repeat(10_000) });
  });

  it('reserved properties cannot be overridden by event properties', () => {
    const e = track('X', { distinct_id: 'spoof', time: 1, token: 'other', $insert_id: 'x' });
    expect(engine.map(e, ctx).items[0].body.properties).toMatchObject(system(e.messageId, ANON));
  });
});

describe('blueprint options', () => {
  const base = defaultBlueprint;

  it('defaults.action drop skips unlisted events; disabled events are skipped', () => {
    const drop = new CompiledBlueprint({ ...base, defaults: { action: 'drop', mappings: [] } });
    expect(drop.map(track('Unlisted', {}), ctx).skipped).toMatch(/not in the blueprint/);
    expect(drop.map(track('Product Viewed', {}), ctx).items).toHaveLength(1);
    const disabled = new CompiledBlueprint({ ...base, events: { ...base.events, 'Product Viewed': { enabled: false, mappings: [] } } });
    expect(disabled.map(track('Product Viewed', {}), ctx).skipped).toMatch(/disabled/);
  });

  it('vendor_event_name renames, value_map/default/transform chains apply', () => {
    const bp: Blueprint = {
      ...base,
      events: {
        'Signed Up': {
          vendor_event_name: 'Sign Up',
          mappings: [
            { source: 'properties.plan', target: 'Plan', transform: ['trim', 'lowercase'], value_map: { pro: 'Professional' } },
            { source: 'properties.missing', target: 'Source', default: 'organic' },
            { source: 'properties.tags', target: 'Tags', transform: 'join', format: '|' },
            { source: 'properties.email', target: 'Email Hash', transform: 'sha256' },
          ],
        },
      },
    };
    const item = new CompiledBlueprint(bp).map(track('Signed Up', { plan: ' PRO ', tags: ['a', 'b'], email: ' Jane@Example.com' }), ctx).items[0];
    expect(item.body.event).toBe('Sign Up');
    expect(item.body.properties).toMatchObject({
      Plan: 'Professional',
      Source: 'organic',
      Tags: 'a|b',
      'Email Hash': '8c87b489ce35cf2e2f39f80e282cb2e804932a56a213983eeeb428407d43b52d',
    });
  });

  it('profile updates can be switched off', () => {
    const off = new CompiledBlueprint({ ...base, profile: { ...base.profile, enabled: false } });
    const out = off.map(identify('u-1', { email: 'a@b.c' }), ctx);
    expect(out.items.map((i) => i.endpoint)).toEqual(['/import']);
  });

  it('identify without userId sets traits on the anonymous profile, without $identify', () => {
    const e = { ...identify('x', { plan: 'free' }), userId: undefined };
    const out = new CompiledBlueprint(base).map(e, ctx);
    const profile = { $token: 'abc123def456789', $distinct_id: ANON, $ip: '203.0.113.9', $time: TS_MS };
    expect(out.items).toEqual([
      { endpoint: '/engage', body: { ...profile, $set: { plan: 'free' } } },
      { endpoint: '/engage', body: { ...profile, $set_once: firstTouchProps } },
    ]);
  });

  it('no IP in the event → no $ip in profile updates', () => {
    const e = identify('u-1', { plan: 'free' }, { context: { ...context, ip: undefined } });
    const engage = new CompiledBlueprint(base).map(e, ctx).items.find((i) => i.endpoint === '/engage');
    expect(engage?.body).not.toHaveProperty('$ip');
  });
});

describe('BlueprintCache', () => {
  it('compiles a blueprint document once for every revision holding it, and each revision once', () => {
    const cache = new BlueprintCache(2, 10);
    const a = cache.get('i1:1', defaultBlueprint);
    expect(cache.get('i2:1', structuredClone(defaultBlueprint))).toBe(a); // another integration, the same document
    expect(cache.get('i1:2', retailBlueprint)).not.toBe(a);
    expect(cache.get('i2:1', defaultBlueprint)).toBe(a);
  });

  it('forgets the least recently used revision first', () => {
    const cache = new BlueprintCache(2, 1);
    const a = cache.get('i1:1', defaultBlueprint);
    cache.get('i2:1', retailBlueprint); // the default document is no longer kept compiled
    cache.get('i1:1', defaultBlueprint); // used again: i2:1 is now the oldest
    cache.get('i3:1', retailBlueprint);
    expect(cache.get('i1:1', retailBlueprint)).toBe(a); // still remembered, whatever document is passed
  });
});
