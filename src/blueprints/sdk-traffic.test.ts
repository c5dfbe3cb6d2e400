import type { Blueprint } from './blueprint.js';
import { CompiledBlueprint } from './engine.js';
import { insertId } from './insert-id.js';
import { blueprintProblems } from './validate.js';
import { defaultBlueprint } from '../catalog/mixpanel/blueprints/default.js';
import { retailBlueprint } from '../catalog/mixpanel/blueprints/retail.js';
import { ANDROID_ID, ANON, CHROME_MAC, context, identify, mobileContext, mobileProps, msgId, page, track, TS, TS_MS } from '../../test/fixtures/events.js';
import type { CanonicalEvent } from './canonical-event.js';
import { everyOperationTraits, everyOperationUpdates, profileWithEveryOperation } from '../../test/fixtures/blueprints.js';

/** What real web and mobile SDKs send (Segment spec), mapped by the catalog's blueprints (issue 11). */
const ctx = { projectToken: 'abc123def456789' };
const simplified = (bp: Blueprint): Blueprint => ({ ...bp, identity: { ...bp.identity, merge_api: 'simplified' } });
const props = (e: CanonicalEvent, bp: Blueprint) => new CompiledBlueprint(bp).map(e, ctx).items[0].body.properties as Record<string, unknown>;

const screen = (extra: Partial<CanonicalEvent> = {}): CanonicalEvent => ({
  type: 'screen',
  name: 'Checkout',
  properties: { step: 2 },
  anonymousId: ANDROID_ID,
  timestamp: TS,
  messageId: msgId(),
  ...extra,
});


describe.each([
  ['default', defaultBlueprint],
  ['retail', retailBlueprint],
])('%s blueprint with real SDK traffic', (_name, blueprint) => {
  const engine = new CompiledBlueprint(blueprint);
  const engineS = new CompiledBlueprint(simplified(blueprint));

  describe('1. an empty or blank userId means anonymous', () => {
    it.each(['', '   '])('userId %j: the event goes out with the anonymous id', (userId) => {
      const e = track('Button Clicked', { id: 'buy' }, { userId });
      const out = engine.map(e, ctx);
      expect(out.rejected).toBeUndefined();
      expect(out.items[0].body.properties).toMatchObject({ distinct_id: ANON, $device_id: ANON });
      expect(out.items[0].body.properties).not.toHaveProperty('$user_id');
      expect(engineS.map(e, ctx).items[0].body.properties).toMatchObject({ distinct_id: `$device:${ANON}` });
    });

    it('identify with a blank userId sets traits on the anonymous profile, without $identify', () => {
      const out = engine.map(identify('', { plan: 'free' }), ctx);
      expect(out.items.map((i) => i.body.event ?? i.endpoint)).toEqual(['/engage', '/engage']);
      expect(out.items[0].body).toMatchObject({ $distinct_id: ANON, $set: { plan: 'free' } });
    });
  });

  describe('2. identify with an anonymous id that is not a UUID v4', () => {
    it('original mode (auto): $merge with both ids, which Mixpanel accepts for any id', () => {
      const e = identify('user-1', {}, { anonymousId: ANDROID_ID });
      const [merge] = engine.map(e, ctx).items;
      expect(merge).toEqual({
        endpoint: '/import',
        body: {
          event: '$merge',
          properties: {
            token: ctx.projectToken,
            time: TS_MS,
            distinct_id: 'user-1',
            $insert_id: insertId(e.messageId, '$merge'),
            $distinct_ids: ['user-1', ANDROID_ID],
          },
        },
      });
    });

    it('original mode (auto): a UUID v4 anonymous id still gets $identify', () => {
      expect(engine.map(identify('user-1', {}), ctx).items[0].body.event).toBe('$identify');
    });

    it('identity.anonymous_merge chooses: identify (with a warning when Mixpanel will not merge), or always merge', () => {
      const identifyOnly = new CompiledBlueprint({ ...blueprint, identity: { merge_api: 'original', anonymous_merge: 'identify' } });
      const out = identifyOnly.map(identify('user-1', {}, { anonymousId: ANDROID_ID }), ctx);
      expect(out.items[0].body.event).toBe('$identify');
      expect(out.warnings[0]).toMatch(/not a UUID v4/);
      const mergeAlways = new CompiledBlueprint({ ...blueprint, identity: { merge_api: 'original', anonymous_merge: 'merge' } });
      expect(mergeAlways.map(identify('user-1', {}), ctx).items[0].body.event).toBe('$merge');
    });

    it('simplified mode sends neither: the ids on the events link the user', () => {
      const out = engineS.map(identify('user-1', {}, { anonymousId: ANDROID_ID }), ctx);
      expect(out.items.every((i) => i.endpoint === '/engage')).toBe(true);
    });
  });

  it('3. alias onto itself is skipped with a reason', () => {
    const e: CanonicalEvent = { type: 'alias', userId: 'u-1', previousId: 'u-1', anonymousId: ANON, timestamp: TS, messageId: msgId() };
    const out = engine.map(e, ctx);
    expect(out.items).toEqual([]);
    expect(out.skipped).toMatch(/alias onto itself/);
    expect(engine.map({ ...e, previousId: undefined, anonymousId: 'u-1' }, ctx).skipped).toMatch(/alias onto itself/);
  });

  describe('4. consent', () => {
    const withConsent = (consent: unknown) => track('Viewed', {}, { context: { ...context, consent } as CanonicalEvent['context'] });

    it.each([
      [{ analytics: false }],
      [{ analytics: 'denied' }],
      [{ categoryPreferences: { Analytics: false } }],
      [{ Analytics: 'false', marketing: true }],
    ])('analytics consent %j → skipped, counted as no consent, never dead-lettered', (consent) => {
      const out = engine.map(withConsent(consent), ctx);
      expect(out).toMatchObject({ items: [], noConsent: true, skipped: '"analytics" consent was not given' });
      expect(out.rejected).toBeUndefined();
    });

    it.each([[{ analytics: true }], [{ marketing: false }], [undefined], [{ categoryPreferences: { analytics: true } }]])('consent %j → sent', (consent) => {
      expect(engine.map(withConsent(consent), ctx).items).toHaveLength(1);
    });

    it('the gating category and what a missing consent means are blueprint data', () => {
      const marketing = new CompiledBlueprint({ ...blueprint, consent: { category: 'marketing', when_missing: 'deny' } });
      expect(marketing.map(withConsent({ analytics: false, marketing: true }), ctx).items).toHaveLength(1);
      expect(marketing.map(withConsent({ analytics: true }), ctx)).toMatchObject({ noConsent: true, skipped: expect.stringMatching(/no "marketing" consent/) });
    });

    it('applies to every call type, identify and group included', () => {
      const denied = { ...context, consent: { analytics: false } };
      expect(engine.map(identify('u-1', { plan: 'x' }, { context: denied }), ctx).noConsent).toBe(true);
      expect(engine.map(page({ context: denied }), ctx).noConsent).toBe(true);
    });
  });

  describe('5. screen calls', () => {
    it('→ Screen Viewed with the screen name, in both identity modes', () => {
      for (const eng of [engine, engineS]) {
        const out = eng.map(screen(), ctx);
        expect(out.items[0].body.event).toBe('Screen Viewed');
        expect(out.items[0].body.properties).toMatchObject({ 'Screen Name': 'Checkout', step: 2, $device_id: ANDROID_ID });
      }
    });

    it('is configurable like Page Viewed: renamed, or dropped when the blueprint has no rule and drops unlisted events', () => {
      const renamed = new CompiledBlueprint({
        ...blueprint,
        events: { ...blueprint.events, screen: { vendor_event_name: 'App Screen', mappings: [{ source: 'name', target: 'screen' }] } },
      });
      expect(renamed.map(screen(), ctx).items[0].body).toMatchObject({ event: 'App Screen', properties: { screen: 'Checkout' } });
      const events = Object.fromEntries(Object.entries(blueprint.events).filter(([key]) => key !== 'screen'));
      const dropped = new CompiledBlueprint({ ...blueprint, events, defaults: { action: 'drop', mappings: [] } });
      expect(dropped.map(screen(), ctx).skipped).toMatch(/"screen" is not in the blueprint/);
    });
  });

  describe('6. mobile and device context', () => {
    it("→ Mixpanel's reserved mobile properties", () => {
      const p = props(screen({ context: mobileContext }), blueprint);
      expect(p).toMatchObject({
        ...mobileProps,
        advertising_id: 'ad-123',
        $device_id: ANDROID_ID, // identity: never the device's or the advertising id
      });
      expect(typeof p.$lib_version).toBe('string');
    });

    it('explicit context wins over the parsed user agent; the user agent still fills the rest', () => {
      const p = props(track('Opened', {}, { context: { userAgent: CHROME_MAC, os: { name: 'iOS', version: '17.2' } } }), blueprint);
      expect(p).toMatchObject({ $os: 'iOS', $os_version: '17.2', $browser: 'Chrome' });
    });

    it('the advertising id is sent only when ad tracking is enabled', () => {
      const optedOut = { ...mobileContext, device: { ...mobileContext.device, adTrackingEnabled: false } };
      expect(props(screen({ context: optedOut }), blueprint)).not.toHaveProperty('advertising_id');
      const unknown = { ...mobileContext, device: { advertisingId: 'ad-123' } };
      expect(props(screen({ context: unknown }), blueprint)).not.toHaveProperty('advertising_id');
    });
  });

  describe('7. first touch and profile operations', () => {
    it('identify sets the first-touch referrer and UTM values with $set_once; every update carries $time', () => {
      const updates = engine.map(identify('u-1', { plan: 'pro' }), ctx).items.filter((i) => i.endpoint === '/engage');
      expect(updates.map((u) => Object.keys(u.body).find((k) => k.startsWith('$set')))).toEqual(['$set', '$set_once']);
      expect(updates[1].body.$set_once).toMatchObject({ $initial_referrer: context.page.referrer, initial_utm_source: 'newsletter' });
      expect(updates.every((u) => u.body.$time === TS_MS && !('$ignore_time' in u.body))).toBe(true);
    });

    it('events carry $initial_referrer and $initial_referring_domain when the collector sends the first-touch referrer', () => {
      const p = props(track('X', {}, { context: { ...context, page: { ...context.page, initial_referrer: 'https://news.example/a' } } }), blueprint);
      expect(p).toMatchObject({ $initial_referrer: 'https://news.example/a', $initial_referring_domain: 'news.example' });
    });

    it('profile mappings choose the operation: $set_once, $add, $append, $union, $remove, $unset; ignore_time sends $ignore_time', () => {
      const bp: Blueprint = { ...blueprint, profile: profileWithEveryOperation };
      expect(blueprintProblems(bp)).toEqual([]);
      const updates = new CompiledBlueprint(bp).map(identify('u-1', everyOperationTraits), ctx).items.filter((i) => i.endpoint === '/engage');
      const base = { $token: ctx.projectToken, $distinct_id: 'u-1', $ip: '203.0.113.9', $time: TS_MS, $ignore_time: true };
      expect(updates.map((u) => u.body)).toEqual(everyOperationUpdates.map((op) => ({ ...base, ...op })));
    });

    it('an operation outside profile mappings is refused when the blueprint is checked', () => {
      const bad: Blueprint = { ...blueprint, global: { mappings: [{ source: 'x', target: 'y', operation: '$set_once' }] } };
      expect(blueprintProblems(bad)).toEqual([{ path: 'body.global.mappings[0].operation', message: expect.stringMatching(/only profile mappings/) }]);
    });
  });

  describe('8. names and traits', () => {
    it.each([
      [{ firstName: 'Jane', lastName: 'Smith' }, 'Jane Smith'],
      [{ first_name: 'Jane', last_name: 'Smith' }, 'Jane Smith'],
      [{ firstName: 'Jane' }, 'Jane'],
      [{ name: 'J. Smith', firstName: 'Jane', lastName: 'Smith' }, 'J. Smith'],
    ])('traits %j → $name %j', (traits, name) => {
      const set = engine.map(identify('u-1', traits), ctx).items.find((i) => i.endpoint === '/engage')!.body.$set as Record<string, unknown>;
      expect(set.$name).toBe(name);
      expect(set).not.toHaveProperty('name');
    });

    it('context.traits are merged under traits for identify (the call’s own traits win), not onto track events by default', () => {
      const e = identify('u-1', { plan: 'pro' }, { context: { ...context, traits: { plan: 'free', email: 'j@x.io' } } });
      const set = engine.map(e, ctx).items.find((i) => i.endpoint === '/engage')!.body.$set;
      expect(set).toEqual({ plan: 'pro', $email: 'j@x.io' });
      const t = track('X', { a: 1 }, { context: { ...context, traits: { email: 'j@x.io' } } });
      expect(props(t, blueprint)).not.toHaveProperty('email');
    });

    it('context_traits can put them on track events too (event properties win)', () => {
      const bp: Blueprint = { ...blueprint, context_traits: ['identify', 'group', 'track'] };
      const t = track('X', { plan: 'event' }, { context: { ...context, traits: { email: 'j@x.io', plan: 'trait' } } });
      expect(props(t, bp)).toMatchObject({ email: 'j@x.io', plan: 'event' });
    });
  });

  describe('9. groups', () => {
    const group = (extra: Partial<CanonicalEvent> = {}): CanonicalEvent => ({
      type: 'group',
      userId: 'u-1',
      groupId: 'acme',
      traits: { name: 'Acme', plan: 'enterprise' },
      anonymousId: ANON,
      timestamp: TS,
      messageId: msgId(),
      ...extra,
    });

    it('ties the user to the group: /groups $set and /engage $union of the group key', () => {
      expect(engine.map(group(), ctx).items).toEqual([
        { endpoint: '/groups', body: { $token: ctx.projectToken, $group_key: 'company', $group_id: 'acme', $set: { name: 'Acme', plan: 'enterprise' } } },
        { endpoint: '/engage', body: { $token: ctx.projectToken, $distinct_id: 'u-1', $time: TS_MS, $union: { company: ['acme'] } } },
      ]);
    });

    it('takes the group id from the traits when groupId is absent; the key and the link are configurable', () => {
      const out = engine.map(group({ groupId: undefined, traits: { group_id: 'g-7', name: 'Seven' } }), ctx);
      expect(out.items[0].body).toMatchObject({ $group_id: 'g-7' });
      const custom = new CompiledBlueprint({ ...blueprint, group: { group_key: 'team', pass_through: true, link_user: false } });
      expect(custom.map(group(), ctx).items.map((i) => [i.endpoint, i.body.$group_key])).toEqual([['/groups', 'team']]);
    });

    it('an anonymous group call updates the group only, with a warning', () => {
      const out = engine.map(group({ userId: undefined }), ctx);
      expect(out.items.map((i) => i.endpoint)).toEqual(['/groups']);
      expect(out.warnings[0]).toMatch(/anonymous/);
    });
  });

  describe('11. UTM and campaign', () => {
    it('every utm_ key of context.campaign, utm_id, and the page URL as the fallback source', () => {
      const campaign = { name: 'spring', source: 'news', medium: 'email', term: 't', content: 'c', id: 'cmp-9', creative_format: 'banner', utm_custom: 'x' };
      expect(props(track('X', {}, { context: { campaign } }), blueprint)).toMatchObject({
        utm_campaign: 'spring',
        utm_source: 'news',
        utm_medium: 'email',
        utm_term: 't',
        utm_content: 'c',
        utm_id: 'cmp-9',
        utm_creative_format: 'banner',
        utm_custom: 'x',
      });
      const url = 'https://shop.example/?utm_source=ads&utm_campaign=fall&utm_id=77&utm_source_platform=meta&q=1';
      const fromUrl = props(track('X', {}, { context: { page: { url } } }), blueprint);
      expect(fromUrl).toMatchObject({ utm_source: 'ads', utm_campaign: 'fall', utm_id: '77', utm_source_platform: 'meta' });
      expect(fromUrl).not.toHaveProperty('q');
      const both = props(track('X', {}, { context: { page: { url }, campaign: { source: 'newsletter' } } }), blueprint);
      expect(both).toMatchObject({ utm_source: 'newsletter', utm_campaign: 'fall' });
    });
  });
});
