import jwt from 'jsonwebtoken';
import { guideInstallBody, startTestApp, TEST_JWT_SECRET, type TestApp } from './support/test-app.js';

let t: TestApp;
let id: string;
beforeAll(async () => {
  t = await startTestApp({ METRICS_TOKEN: 'scrape-me-0123456789' });
  id = (await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('acme')).send(guideInstallBody())).body.id;
});
afterAll(() => t.close());

/** A cursor holding this value (a string is taken as the JSON text itself). */
const cursor = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('crafted pagination cursors', () => {
  const lists = () => [
    '/v1/admin/integrations',
    `/v1/admin/integrations/${id}/revisions`,
    `/v1/admin/integrations/${id}/deliveries`,
    `/v1/admin/integrations/${id}/dead-letters`,
    '/v1/admin/ingest-keys',
    '/v1/admin/audit-logs',
  ];
  const crafted = [
    { at: '2020-01-01T00:00:00Z', id: 'x' },
    { at: '2020-01-01T00:00:00Z', id: '6f1c1d5e-8a4b-4c3d-9e2f-0a1b2c3d4e5f' }, // a UUID where ids are bigint, fine where they are UUIDs
    '{"at":"2020-01-01T00:00:00Z","id":99999999999999999999}',
    '{"at":"2020-01-01T00:00:00Z","id":1e300}',
    { at: 'Tue, 01 Jan 2020 00:00:00 GMT', id: 1 }, // Date.parse takes it
    { at: '+275760-09-13T00:00:00.000Z', id: 1 },
    { at: '2020-02-31T00:00:00Z', id: 1 },
    { at: 20200101, id: 1 },
    ['not', 'an', 'object'],
    null,
  ];
  it('are refused with 400 on all six lists, never 500', async () => {
    for (const path of lists()) {
      for (const c of crafted) {
        const res = await t.request.get(`${path}?cursor=${cursor(c)}`).set(t.auth('acme'));
        expect([path, c, res.status]).toEqual([path, c, res.status === 200 ? 200 : 400]);
        if (res.status === 400) expect(res.body.error.details[0].path).toBe('query.cursor');
      }
    }
  });
  it('a UUID id is a valid position on UUID-keyed lists, a number on bigint-keyed ones', async () => {
    const uuidCursor = cursor({ at: '2020-01-01T00:00:00Z', id: '6f1c1d5e-8a4b-4c3d-9e2f-0a1b2c3d4e5f' });
    expect((await t.request.get(`/v1/admin/integrations?cursor=${uuidCursor}`).set(t.auth('acme'))).status).toBe(200);
    expect((await t.request.get(`/v1/admin/audit-logs?cursor=${uuidCursor}`).set(t.auth('acme'))).status).toBe(400);
    const numberCursor = cursor({ at: '2099-01-01T00:00:00.000Z', id: 5 });
    expect((await t.request.get(`/v1/admin/audit-logs?cursor=${numberCursor}`).set(t.auth('acme'))).body.data.length).toBeGreaterThan(0);
  });
});

describe('text PostgreSQL cannot store', () => {
  const bad = ['nul\u0000inside', 'lone \ud800 surrogate', 'trailing \udc00'];
  it('in names, config strings, blueprint strings and query filters → 400 naming the field', async () => {
    for (const s of bad) {
      const install = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('acme')).send(guideInstallBody({ name: s }));
      expect([install.status, install.body.error.details?.[0]?.path]).toEqual([400, 'body.name']);
      const patch = await t.request.patch(`/v1/admin/integrations/${id}`).set(t.auth('acme')).send({ config: { project_token: `tok${s}` } });
      expect(patch.status).toBe(400);
      const bp = (await t.request.get(`/v1/admin/integrations/${id}/blueprint`).set(t.auth('acme'))).body;
      bp.events['Weird'] = { vendor_event_name: s, mappings: [] };
      const put = await t.request.put(`/v1/admin/integrations/${id}/blueprint`).set(t.auth('acme')).send(bp);
      expect([put.status, put.body.error.details?.[0]?.path]).toEqual([400, 'body.events.Weird.vendor_event_name']);
      const key = await t.request.post('/v1/admin/ingest-keys').set(t.auth('acme')).send({ name: s });
      expect(key.status).toBe(400);
    }
  });
  it('in query filters → 400 naming the parameter; bytes that are not UTF-8 never reach PostgreSQL', async () => {
    const nul = await t.request.get('/v1/admin/audit-logs?resource_id=a%00b').set(t.auth('acme'));
    expect([nul.status, nul.body.error.details?.[0]?.path]).toEqual([400, 'query.resource_id']);
    // An encoded lone surrogate (CESU bytes) decodes to U+FFFD: stored and searched like any text.
    expect((await t.request.get('/v1/admin/audit-logs?resource_id=a%ED%A0%80b').set(t.auth('acme'))).status).toBe(200);
  });

  it('in path values → 400 or 404, never 500', async () => {
    for (const path of ['/v1/admin/integration-catalog/mix%00panel', '/v1/admin/integration-catalog/mixpanel/variants/de%00fault/blueprint', `/v1/admin/integrations/${id}%00`]) {
      const res = await t.request.get(path).set(t.auth('acme'));
      expect([path, res.status]).toEqual([path, res.status === 404 ? 404 : 400]);
    }
  });
});

describe('revision numbers past int32', () => {
  it('→ 400 on read and restore', async () => {
    for (const n of ['2147483648', '99999999999999999999']) {
      expect((await t.request.get(`/v1/admin/integrations/${id}/revisions/${n}`).set(t.auth('acme'))).status).toBe(400);
      expect((await t.request.post(`/v1/admin/integrations/${id}/revisions/${n}/restore`).set(t.auth('acme'))).status).toBe(400);
    }
    expect((await t.request.get(`/v1/admin/integrations/${id}/revisions/2147483647`).set(t.auth('acme'))).status).toBe(404);
  });

  it('integers written another way (1e3, 01) are read as the number they are', async () => {
    expect((await t.request.get(`/v1/admin/integrations/${id}/revisions/1e3`).set(t.auth('acme'))).status).toBe(404);
    expect((await t.request.get(`/v1/admin/integrations/${id}/revisions/01`).set(t.auth('acme'))).status).toBe(200);
    expect((await t.request.post(`/v1/admin/integrations/${id}/revisions/1e3/restore`).set(t.auth('acme'))).status).toBe(404);
  });
});

describe('validly signed tokens with unusable claims', () => {
  const sign = (claims: Record<string, unknown>) => jwt.sign({ role: 'admin', ...claims }, TEST_JWT_SECRET, { algorithm: 'HS256', expiresIn: 60 });
  it.each([
    ['sub over 255 characters', { sub: 'u'.repeat(256), org_id: 'acme' }, /sub claim is longer than 255/],
    ['org_id over 255 characters', { sub: 'u', org_id: 'o'.repeat(256) }, /org_id claim is longer than 255/],
    ['a NUL in sub', { sub: 'u\u0000', org_id: 'acme' }, /sub claim holds control characters/],
    ['a lone surrogate in org_id', { sub: 'u', org_id: 'ac\ud800me' }, /org_id claim holds control characters or invalid Unicode/],
    ['sub not a string', { sub: 42, org_id: 'acme' }, /sub claim must be a string, not a number/],
    ['org_id an array', { sub: 'u', org_id: ['acme'] }, /org_id claim must be a string, not an array/],
    ['org_id empty', { sub: 'u', org_id: '' }, /org_id claim is missing/],
  ])('%s → 401 with the reason, on every kind of route', async (_name, claims, reason) => {
    const token = sign(claims);
    for (const req of [
      t.request.get('/v1/admin/integrations'),
      t.request.patch(`/v1/admin/integrations/${id}`).send({ name: 'x' }),
      t.request.get('/v1/admin/audit-logs'),
    ]) {
      const res = await req.set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({ code: 'INVALID_TOKEN', message: expect.stringMatching(reason) });
    }
  });
});

describe('admin requests without a valid token', () => {
  it('are answered 401 before their body is read (not 400, 413 or 415)', async () => {
    const cases = [
      t.request.post('/v1/admin/integration-catalog/mixpanel/install').set('Content-Type', 'application/json').send('{not json'),
      t.request.post('/v1/admin/integration-catalog/mixpanel/install').set('Content-Type', 'application/json').send(`{"name":"${'x'.repeat(2_000_000)}"}`),
      t.request.post('/v1/admin/ingest-keys').set('Content-Type', 'text/plain').send('hello'),
      t.request.post('/v1/events').set('Content-Type', 'application/json').send('{not json'),
    ];
    for (const req of cases) expect((await req).status).toBe(401);
  });
});

describe('admin request bodies that are not a JSON object', () => {
  it.each([
    ['{not json', 'The request body is not valid JSON'],
    ['{"name": "x",}', 'The request body is not valid JSON'],
    ['null', 'The request body must be a JSON object'],
    ['"Mixpanel"', 'The request body must be a JSON object'],
    ['42', 'The request body must be a JSON object'],
    ['nul', 'The request body is not valid JSON'],
  ])('%s → 400 that says which', async (body, message) => {
    const res = await t.request.post('/v1/admin/ingest-keys').set(t.auth('acme')).set('Content-Type', 'application/json').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'VALIDATION_ERROR', message });
  });
});

describe('GET /metrics with METRICS_TOKEN set', () => {
  it('needs the token', async () => {
    expect((await t.request.get('/metrics')).status).toBe(401);
    expect((await t.request.get('/metrics').set('Authorization', 'Bearer wrong')).status).toBe(401);
    const ok = await t.request.get('/metrics').set('Authorization', 'Bearer scrape-me-0123456789');
    expect(ok.status).toBe(200);
    expect(ok.text).toContain(`dlq_depth{integration_id="${id}"}`);
  });
});
