import { randomUUID } from 'node:crypto';
import { ANDROID_ID, ANON, context, identify, mobileContext, mobileProps, page, track } from './fixtures/events.js';
import { startHarness, US, type Harness } from './support/delivery-harness.js';
import { everyOperationTraits, everyOperationUpdates, profileWithEveryOperation } from './fixtures/blueprints.js';

/**
 * What real web and mobile SDKs send (Segment-spec payloads from analytics.js, iOS and Android), through
 * the real router: ingest, preview, delivery to the stand-in Mixpanel, stats and metrics (issue 11).
 */
let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(() => h.close());

const hoursAgo = (n: number) => new Date(Date.now() - n * 3600_000).toISOString();
const stats = async (id: string) => (await h.t.request.get(`/v1/admin/integrations/${id}/stats`).set(h.t.auth('acme', 'viewer'))).body;

/** The SDK's context, ad tracking off, with the user's traits as the SDK knows them. */
const sdkContext = { ...mobileContext, device: { ...mobileContext.device, adTrackingEnabled: false }, traits: { email: 'jane@example.com' } };

/** One Android SDK batch, as sent: Segment fields the platform ignores, an empty timestamp, a clock two hours fast. */
function androidBatch() {
  const skewed = new Date(Date.now() + 2 * 3600_000); // the phone's clock
  return [
    {
      type: 'screen',
      name: 'Home',
      properties: { tab: 'deals' },
      anonymousId: ANDROID_ID,
      userId: '',
      messageId: randomUUID(),
      timestamp: '',
      originalTimestamp: new Date(skewed.getTime() - 60_000).toISOString(),
      sentAt: skewed.toISOString(),
      channel: 'mobile',
      version: 2,
      integrations: { All: true },
      _metadata: { bundled: ['Mixpanel'] },
      context: sdkContext,
    },
    { type: 'identify', userId: 'user-42', traits: { firstName: 'Jane', lastName: 'Doe' }, anonymousId: ANDROID_ID, messageId: randomUUID(), context: sdkContext },
    { type: 'group', userId: 'user-42', groupId: 'acme', traits: { name: 'Acme' }, anonymousId: ANDROID_ID, messageId: randomUUID(), context: sdkContext },
    { type: 'alias', userId: 'user-42', previousId: 'user-42', anonymousId: ANDROID_ID, messageId: randomUUID() },
    { type: 'track', event: 'Ad Clicked', anonymousId: ANDROID_ID, messageId: randomUUID(), context: { ...sdkContext, consent: { analytics: false } } },
  ];
}

describe.each(['default', 'retail'])('%s variant, Original ID Merge', (variant) => {
  it('preview shows what an Android batch becomes, and delivery sends exactly that', async () => {
    const id = await h.install('Mixpanel', undefined, variant);
    const batch = androidBatch();

    const preview = await h.t.request.post(`/v1/admin/integrations/${id}/preview`).set(h.t.auth('acme', 'viewer')).send({ events: batch });
    expect(preview.status).toBe(200);
    expect(preview.body.results.map((r: { status: string; reason?: string }) => [r.status, r.reason])).toEqual([
      ['mapped', undefined],
      ['mapped', undefined],
      ['mapped', undefined],
      ['skipped', 'alias onto itself (previousId equals userId): nothing to link'],
      ['skipped', '"analytics" consent was not given'],
    ]);
    const planned = preview.body.requests.map((r: { endpoint: string; body: Record<string, unknown>[] }) => [
      r.endpoint,
      r.body.map((b) => b.event ?? Object.keys(b).find((k) => k.startsWith('$') && !['$token', '$distinct_id', '$time', '$ip', '$group_key', '$group_id'].includes(k))),
    ]);
    expect(planned).toEqual([
      ['/import', ['Screen Viewed', '$merge']],
      ['/engage', ['$set', '$union']],
      ['/groups', ['$set']],
    ]);

    const res = await h.post(batch);
    expect(res).toEqual({ status: 202, body: { accepted: 5, rejected: [] } });
    await h.until(() => h.us.eventsOf(US.token).length === 2 && h.us.state.engage.length === 2 && h.us.state.groups.length === 1, 'delivery');

    const screen = h.us.eventsOf(US.token).find((e) => e.event === 'Screen Viewed')!;
    expect(screen.properties).toMatchObject({
      'Screen Name': 'Home',
      tab: 'deals',
      distinct_id: ANDROID_ID,
      $device_id: ANDROID_ID,
      ...mobileProps,
    });
    expect(screen.properties).not.toHaveProperty('$user_id'); // userId "" is anonymous
    expect(screen.properties).not.toHaveProperty('advertising_id'); // ad tracking is off
    expect(screen.properties).not.toHaveProperty('email'); // context.traits stay off track/screen events by default
    // The phone's clock is 2 h fast: the event happened a minute before the platform received it.
    expect(Math.abs((screen.properties.time as number) - (Date.now() - 60_000))).toBeLessThan(15_000);

    // The Android id is not a UUID v4: the stand-in, like Mixpanel, merges it through $merge.
    expect(h.us.state.identities).toEqual([{ via: '$merge', ids: ['user-42', ANDROID_ID] }]);
    expect(h.us.state.engage).toEqual([
      expect.objectContaining({ $distinct_id: 'user-42', $set: { $name: 'Jane Doe', $first_name: 'Jane', $last_name: 'Doe', $email: 'jane@example.com' } }),
      expect.objectContaining({ $distinct_id: 'user-42', $union: { company: ['acme'] } }),
    ]);
    expect(h.us.state.engage.every((u) => typeof u.$time === 'number')).toBe(true);
    expect(h.us.state.groups).toEqual([{ $token: US.token, $group_key: 'company', $group_id: 'acme', $set: { name: 'Acme', email: 'jane@example.com' } }]);

    await h.until(async () => (await stats(id)).delivered === 3, 'stats');
    expect(await stats(id)).toMatchObject({ delivered: 3, skipped: 2, skipped_no_consent: 1, dead_lettered: 0 });
    const metrics = await h.t.request.get('/metrics');
    expect(metrics.text).toContain(`delivery_events_total{integration_id="${id}",outcome="no_consent"} 1`);
    expect(metrics.text).toContain(`delivery_events_total{integration_id="${id}",outcome="skipped"} 1`);
  });

  it('a web identify with a UUID v4 anonymous id still merges through $identify', async () => {
    await h.install('Mixpanel', undefined, variant);
    await h.post([identify('user-7', { plan: 'pro' })]);
    await h.until(() => h.us.state.identities.length === 1, 'the merge');
    expect(h.us.state.identities).toEqual([{ via: '$identify', ids: ['user-7', ANON] }]);
  });
});

describe('Simplified ID Merge', () => {
  it.each(['default', 'retail'])('%s: neither $identify nor $merge; events carry $device_id and $user_id', async (variant) => {
    const id = await h.install('Mixpanel', undefined, variant);
    const current = await h.t.request.get(`/v1/admin/integrations/${id}/blueprint`).set(h.t.auth('acme'));
    const put = await h.t.request
      .put(`/v1/admin/integrations/${id}/blueprint`)
      .set(h.t.auth('acme'))
      .send({ ...current.body, identity: { merge_api: 'simplified' } });
    expect(put.status).toBe(200);
    const batch = androidBatch();
    await h.post([...batch, { type: 'screen', name: 'Cart', userId: 'user-42', anonymousId: ANDROID_ID, messageId: randomUUID() }]);
    await h.until(() => h.us.eventsOf(US.token).length === 2 && h.us.state.groups.length === 1, 'delivery');
    expect(h.us.state.identities).toEqual([]);
    const [anonymous, known] = h.us.eventsOf(US.token).map((e) => e.properties);
    expect(anonymous).toMatchObject({ distinct_id: `$device:${ANDROID_ID}`, $device_id: ANDROID_ID });
    expect(known).toMatchObject({ distinct_id: 'user-42', $user_id: 'user-42', $device_id: ANDROID_ID });
  });
});

describe('profile operations chosen in the blueprint', () => {
  it('reach Mixpanel one operation per update, with $time and, when asked, $ignore_time', async () => {
    const id = await h.install('Mixpanel');
    const current = (await h.t.request.get(`/v1/admin/integrations/${id}/blueprint`).set(h.t.auth('acme'))).body;
    const put = await h.t.request.put(`/v1/admin/integrations/${id}/blueprint`).set(h.t.auth('acme')).send({ ...current, profile: profileWithEveryOperation });
    expect(put.status).toBe(200);
    await h.post([identify('user-9', everyOperationTraits, { context: {} })]);
    await h.until(() => h.us.state.engage.length === everyOperationUpdates.length, 'the profile updates');
    const ops = h.us.state.engage.map(({ $token, $distinct_id, $time, $ignore_time, ...op }) => {
      expect([$token, $distinct_id, typeof $time, $ignore_time]).toEqual([US.token, 'user-9', 'number', true]);
      return op;
    });
    expect(ops).toEqual(everyOperationUpdates);
    await h.until(async () => (await stats(id)).delivered === 1, 'stats');
    expect(await stats(id)).toMatchObject({ profile_updates_delivered: everyOperationUpdates.length, dead_lettered: 0 });
  });

  it('an operation outside profile mappings is refused with 400 naming the path', async () => {
    const id = await h.install('Mixpanel');
    const current = (await h.t.request.get(`/v1/admin/integrations/${id}/blueprint`).set(h.t.auth('acme'))).body;
    const res = await h.t.request
      .put(`/v1/admin/integrations/${id}/blueprint`)
      .set(h.t.auth('acme'))
      .send({ ...current, global: { mappings: [{ source: 'traits.email', target: 'email', operation: '$set_once' }] } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error)).toContain('global.mappings[0].operation');
  });
});

describe('ingest accepts what SDKs send', () => {
  it('screen calls, empty timestamps, Segment fields; falls back to originalTimestamp; refuses a real type error', async () => {
    await h.install('Mixpanel');
    const original = hoursAgo(3);
    const res = await h.post([
      { type: 'screen', name: 'Home', anonymousId: ANON, timestamp: '', originalTimestamp: original, _metadata: {}, channel: 'mobile' },
      { ...page(), timestamp: '', receivedAt: hoursAgo(0), version: '1.1' },
      { type: 'screen', anonymousId: ANON, timestamp: 'yesterday' },
    ]);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(2);
    expect(res.body.rejected).toEqual([{ index: 2, reason: expect.stringMatching(/timestamp/) }]);
    await h.until(() => h.us.eventsOf(US.token).length === 2, 'delivery');
    const screen = h.us.eventsOf(US.token).find((e) => e.event === 'Screen Viewed')!;
    expect(screen.properties.time).toBe(Date.parse(original));
  });

  it('UTM values from the page URL reach Mixpanel when the SDK sent no campaign', async () => {
    await h.install('Mixpanel');
    const url = 'https://shop.example/landing?utm_source=ads&utm_campaign=fall&utm_id=77';
    await h.post([track('Signed Up', {}, { context: { ...context, campaign: undefined, page: { ...context.page, url } } })]);
    await h.until(() => h.us.eventsOf(US.token).length === 1, 'delivery');
    expect(h.us.eventsOf(US.token)[0].properties).toMatchObject({ utm_source: 'ads', utm_campaign: 'fall', utm_id: '77' });
  });
});
