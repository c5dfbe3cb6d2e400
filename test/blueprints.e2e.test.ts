import { guideInstallBody, startTestApp, type TestApp } from './support/test-app.js';
import { identify, order, page, track } from './fixtures/events.js';

let t: TestApp;
let id: string;
let blueprint: Record<string, unknown>;

beforeAll(async () => {
  t = await startTestApp();
  const res = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('acme')).send(guideInstallBody());
  id = res.body.id;
  blueprint = res.body.blueprint;
});
afterAll(() => t.close());

describe('GET/PUT /integrations/{id}/blueprint', () => {
  it('returns the current blueprint with its revision as ETag', async () => {
    const res = await t.request.get(`/v1/admin/integrations/${id}/blueprint`).set(t.auth('acme', 'viewer'));
    expect(res.status).toBe(200);
    expect(res.headers.etag).toMatch(/^"1-\d+"$/);
    expect(res.body).toEqual(blueprint);
  });

  it('PUT stores a new revision and keeps the previous one', async () => {
    const changed = { ...blueprint, identity: { merge_api: 'simplified' } };
    const res = await t.request.put(`/v1/admin/integrations/${id}/blueprint`).set(t.auth('acme', 'editor')).send(changed);
    expect(res.status).toBe(200);
    expect(res.body.revision).toBe(2);
    expect(res.headers.etag).toMatch(/^"2-\d+"$/);
    expect(res.body.blueprint.identity.merge_api).toBe('simplified');
    const revisions = await t.db.knex('integration_revisions').where({ integration_id: id }).orderBy('revision_number');
    expect(revisions.map((r) => [r.revision_number, r.blueprint.identity.merge_api])).toEqual([
      [1, 'original'],
      [2, 'simplified'],
    ]);
    expect(revisions[1].config.api_secret).toBe('***');
  });

  it('PUT with a stale If-Match → 412, with the current one → 200', async () => {
    const first = await t.request.get(`/v1/admin/integrations/${id}/revisions/1`).set(t.auth('acme'));
    const current = await t.request.get(`/v1/admin/integrations/${id}/blueprint`).set(t.auth('acme'));
    const staleTag = `"1-${Date.parse(first.body.created_at)}"`;
    const stale = await t.request.put(`/v1/admin/integrations/${id}/blueprint`).set(t.auth('acme')).set('If-Match', staleTag).send(current.body);
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('PRECONDITION_FAILED');
    const fresh = await t.request
      .put(`/v1/admin/integrations/${id}/blueprint`)
      .set(t.auth('acme'))
      .set('If-Match', current.headers.etag)
      .send({ ...current.body, identity: { merge_api: 'original' } });
    expect(fresh.status).toBe(200);
  });

  it('PUT of the blueprint as it is (its keys in another order) makes no revision, and the ETag stays', async () => {
    const current = await t.request.get(`/v1/admin/integrations/${id}/blueprint`).set(t.auth('acme'));
    const reordered = Object.fromEntries(Object.entries(current.body as Record<string, unknown>).reverse());
    expect(Object.keys(reordered)).not.toEqual(Object.keys(current.body));
    const before = await t.db.knex('integration_revisions').where({ integration_id: id }).count<{ count: string }[]>('* as count');
    const res = await t.request.put(`/v1/admin/integrations/${id}/blueprint`).set(t.auth('acme')).set('If-Match', current.headers.etag).send(reordered);
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe(current.headers.etag);
    expect(await t.db.knex('integration_revisions').where({ integration_id: id }).count<{ count: string }[]>('* as count')).toEqual(before);
  });

  it.each([
    ['unknown transform', (bp: Record<string, unknown>) => ({ ...bp, global: { mappings: [{ source: 'x', target: 'y', transform: 'rot13' }] } }), 'global.mappings.0.transform'],
    ['bad merge_api', (bp: Record<string, unknown>) => ({ ...bp, identity: { merge_api: 'magic' } }), 'identity.merge_api'],
    ['bad source path', (bp: Record<string, unknown>) => ({ ...bp, global: { mappings: [{ source: 'a..b', target: 'y' }] } }), 'global.mappings.0.source'],
    ['two [] in a path', (bp: Record<string, unknown>) => ({ ...bp, global: { mappings: [{ source: 'a[][]', target: 'y' }] } }), 'global.mappings.0.source'],
    ['missing target', (bp: Record<string, unknown>) => ({ ...bp, global: { mappings: [{ source: 'a.b' }] } }), 'global.mappings[0].target'],
    ['wrong version', (bp: Record<string, unknown>) => ({ ...bp, version: 1 }), 'version'],
    ['unknown section', (bp: Record<string, unknown>) => ({ ...bp, extras: {} }), 'extras'],
    ['missing profile', (bp: Record<string, unknown>) => ({ ...bp, profile: undefined }), 'profile'],
  ])('rejects %s with 400 naming the path', async (_label, change, path) => {
    const res = await t.request.put(`/v1/admin/integrations/${id}/blueprint`).set(t.auth('acme')).send(change(blueprint));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.message).toContain(path);
  });

  it('viewer cannot PUT; another org gets 404', async () => {
    expect((await t.request.put(`/v1/admin/integrations/${id}/blueprint`).set(t.auth('acme', 'viewer')).send(blueprint)).status).toBe(403);
    expect((await t.request.put(`/v1/admin/integrations/${id}/blueprint`).set(t.auth('globex')).send(blueprint)).status).toBe(404);
  });
});

describe('POST /integrations/{id}/preview', () => {
  it('shows the exact requests, endpoint, region host and per-event outcome, without credentials', async () => {
    const events = [
      page(),
      identify('user-123', { email: 'jane@example.com' }),
      track('Order Completed', order, { userId: 'user-123' }),
      track('X', {}, { anonymousId: 'null' }),
    ];
    const res = await t.request.post(`/v1/admin/integrations/${id}/preview`).set(t.auth('acme', 'viewer')).send({ events });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['mapped', 'mapped', 'mapped', 'rejected']);
    expect(res.body.results[3].reason).toMatch(/anonymousId "null"/);
    expect(res.body.requests.map((r: { url: string; body: unknown[] }) => [r.url, r.body.length])).toEqual([
      ['https://api.mixpanel.com/import?strict=1', 3],
      ['https://api.mixpanel.com/engage?verbose=1&ip=0', 3], // $set, first-touch $set_once, $append
    ]);
    expect(res.body.requests[0].body.map((e: { event: string }) => e.event)).toEqual(['Page Viewed', '$identify', 'Order Completed']);
    expect(res.body.requests[0].headers.Authorization).toBe('Basic ***');
    expect(JSON.stringify(res.body)).not.toContain('your_api_secret');
  });

  it('uses the EU host when eu_data_residency is on', async () => {
    const eu = await t.request
      .post('/v1/admin/integration-catalog/mixpanel/install')
      .set(t.auth('acme'))
      .send(guideInstallBody({ name: 'EU', config: { project_token: 't', api_secret: 's', eu_data_residency: true } }));
    const res = await t.request.post(`/v1/admin/integrations/${eu.body.id}/preview`).set(t.auth('acme')).send({ events: [page()] });
    expect(res.body.requests[0].url).toBe('https://api-eu.mixpanel.com/import?strict=1');
    expect(res.body.requests[0].region).toBe('eu');
  });

  it('rejects an empty or oversized list', async () => {
    expect((await t.request.post(`/v1/admin/integrations/${id}/preview`).set(t.auth('acme')).send({ events: [] })).status).toBe(400);
    const many = Array.from({ length: 101 }, () => page());
    expect((await t.request.post(`/v1/admin/integrations/${id}/preview`).set(t.auth('acme')).send({ events: many })).status).toBe(400);
  });
});
