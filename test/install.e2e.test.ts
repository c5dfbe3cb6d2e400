import jwt from 'jsonwebtoken';
import { guideInstallBody, startTestApp, TEST_JWT_SECRET, type TestApp } from './support/test-app.js';
/** A config that authenticates /import with the API secret. */
const API_SECRET_CONFIG = { project_token: 't', eu_data_residency: false };

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('install from the catalog (the guide\'s curl)', () => {
  it('creates the integration with revision 1, the variant blueprint and a masked secret', async () => {
    const res = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('acme')).send(guideInstallBody());
    expect(res.status).toBe(201);
    expect(res.headers.etag).toMatch(/^"1-\d+"$/);
    expect(res.body).toMatchObject({
      name: 'Mixpanel',
      vendor: 'mixpanel',
      variant: 'default',
      delivery_mode: 'server_side',
      enabled: true,
      status: 'active',
      region: 'us',
      revision: 1,
      config: { project_token: 'abc123def456789', api_secret: '***', eu_data_residency: false },
    });
    const catalog = await t.request.get('/v1/admin/integration-catalog/mixpanel/variants/default/blueprint').set(t.auth('acme'));
    expect(res.body.blueprint).toEqual(catalog.body);
    expect(JSON.stringify(res.body)).not.toContain('your_api_secret');
  });

  it.each(['default', 'retail'])("the %s variant's blueprint shows the SDK-traffic settings: screen, consent, merge, context traits, profile operations, groups", async (variant) => {
    const bp = (await t.request.get(`/v1/admin/integration-catalog/mixpanel/variants/${variant}/blueprint`).set(t.auth('acme', 'viewer'))).body;
    expect(bp).toMatchObject({
      identity: { merge_api: 'original', anonymous_merge: 'auto' },
      consent: { category: 'analytics', when_missing: 'allow' },
      context_traits: ['identify', 'group'],
      events: { screen: { vendor_event_name: 'Screen Viewed' } },
      group: { group_key: 'company', link_user: true, group_id_from: ['traits.group_id', 'traits.groupId'] },
    });
    expect(bp.profile.mappings).toContainEqual({ source: 'context.page.referrer', target: '$initial_referrer', operation: '$set_once' });
    expect(bp.global.mappings).toContainEqual({ source: 'context.app.version', target: '$app_version_string' });
  });

  it('stores the secret as AES-GCM ciphertext, never the plain text', async () => {
    const res = await t.request
      .post('/v1/admin/integration-catalog/mixpanel/install')
      .set(t.auth('acme'))
      .send(guideInstallBody({ name: 'Secret check', config: { project_token: 'tok', api_secret: 'plain-secret-42' } }));
    expect(res.status).toBe(201);
    const row = await t.db.knex('integration_secrets').where({ integration_id: res.body.id }).first();
    expect(row.key_id).toBe('k1');
    expect(row.nonce).toHaveLength(12);
    expect(row.tag).toHaveLength(16);
    expect(row.ciphertext.toString('utf8')).not.toContain('plain-secret-42');
    const dump = JSON.stringify(await t.db.knex.raw('SELECT * FROM integrations, integration_revisions, audit_logs'));
    expect(dump).not.toContain('plain-secret-42');
    await expect(t.services.integrations.importSecret({ orgId: 'acme', id: res.body.id, config: API_SECRET_CONFIG })).resolves.toBe('plain-secret-42');
    await expect(t.services.integrations.importSecret({ orgId: 'other-org', id: res.body.id, config: API_SECRET_CONFIG })).rejects.toThrow();
  });

  it('installs the retail variant and the EU region', async () => {
    const res = await t.request
      .post('/v1/admin/integration-catalog/mixpanel/install')
      .set(t.auth('acme'))
      .send({ name: 'Shop EU', variant: 'retail', config: { project_token: 't', api_secret: 's', eu_data_residency: true } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ variant: 'retail', region: 'eu', delivery_mode: 'server_side' });
    expect(res.body.blueprint.events['Order Completed'].fan_out.vendor_event_name).toBe('Product Purchased');
  });

  it('copies the blueprint at install time: later catalog changes do not alter it', async () => {
    const res = await t.request
      .post('/v1/admin/integration-catalog/mixpanel/install')
      .set(t.auth('acme'))
      .send(guideInstallBody({ name: 'Frozen' }));
    await t.db.knex('catalog_blueprints').where({ vendor: 'mixpanel', variant: 'default' }).update({
      document: JSON.stringify({ ...res.body.blueprint, identity: { merge_api: 'simplified' } }),
    });
    const again = await t.request.get(`/v1/admin/integrations/${res.body.id}`).set(t.auth('acme'));
    expect(again.body.blueprint.identity.merge_api).toBe('original');
    await t.services.catalogBlueprints.seed((await import('../src/catalog/catalog.js')).CATALOG);
  });

  it('with no name, the integration is named after the catalog entry; a second such install is a 409 that names it', async () => {
    const body = { config: { project_token: 'tok', api_secret: 'sec' } };
    const first = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('initech')).send(body);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ name: 'Mixpanel', variant: 'default', delivery_mode: 'server_side' });
    const again = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('initech')).send(body);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe('An integration named "Mixpanel" already exists');
  });

  it('rejects the same name twice in one org (409), allows it in another org', async () => {
    const body = guideInstallBody({ name: 'Twice' });
    expect((await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('acme')).send(body)).status).toBe(201);
    const dup = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('acme')).send({ ...body, name: 'twice' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('CONFLICT');
    expect((await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('globex')).send(body)).status).toBe(201);
  });
});

describe('integrations per org (MAX_INTEGRATIONS_PER_ORG)', () => {
  it('refuses an install past the limit with 409 LIMIT_REACHED, counts installs made at once, and frees a place on delete', async () => {
    const limited = await startTestApp({ MAX_INTEGRATIONS_PER_ORG: '3' }, t.db);
    try {
      const install = (org: string, name: string) => limited.request.post('/v1/admin/integration-catalog/mixpanel/install').set(limited.auth(org)).send(guideInstallBody({ name }));
      expect((await install('full-org', 'One')).status).toBe(201);
      // Four installs at once with room for two: two succeed, whatever the timing.
      const together = await Promise.all(['Two', 'Three', 'Four', 'Five'].map((name) => install('full-org', name)));
      expect(together.map((r) => r.status).sort()).toEqual([201, 201, 409, 409]);
      const refused = together.find((r) => r.status === 409)!;
      expect(refused.body.error).toEqual({
        code: 'LIMIT_REACHED',
        message: 'The org already has 3 integrations, the most this service allows (MAX_INTEGRATIONS_PER_ORG=3); delete one first',
      });
      const list = await limited.request.get('/v1/admin/integrations').set(limited.auth('full-org', 'viewer'));
      expect(list.body.data).toHaveLength(3);
      // Nothing of a refused install stays: no audit entry for it.
      const audited = await t.db.knex('audit_logs').where({ action: 'integration.install', org_id: 'full-org' }).whereRaw(`changes->'new'->>'name' IN ('Two', 'Three', 'Four', 'Five')`).count<{ n: string }[]>('* as n');
      expect(Number(audited[0].n)).toBe(2);
      // Another org is not counted with this one.
      expect((await install('other-org', 'One')).status).toBe(201);
      // A deleted integration frees its place.
      expect((await limited.request.delete(`/v1/admin/integrations/${list.body.data[0].id}`).set(limited.auth('full-org'))).status).toBe(204);
      expect((await install('full-org', 'Six')).status).toBe(201);
      expect((await install('full-org', 'Seven')).status).toBe(409);
    } finally {
      await limited.close();
    }
  });
});

describe('install validation', () => {
  const install = (body: unknown, key = 'mixpanel') =>
    t.request.post(`/v1/admin/integration-catalog/${key}/install`).set(t.auth('acme')).send(body as object);

  it('takes a name of any printable characters, and refuses control characters in a rename too', async () => {
    const res = await install(guideInstallBody({ name: 'Café – prod 🚀 (EU)' }));
    expect(res.status).toBe(201);
    expect(res.body.name).toBe('Café – prod 🚀 (EU)');
    const renamed = await t.request.patch(`/v1/admin/integrations/${res.body.id}`).set(t.auth('acme')).send({ name: 'two\nlines' });
    expect(renamed.status).toBe(400);
    expect(renamed.body.error.details[0].path).toBe('body.name');
  });

  it('unknown catalog key → 404', async () => {
    const res = await install(guideInstallBody(), 'amplitude');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  it.each([
    ['unknown variant', guideInstallBody({ variant: 'gaming' }), 'variant'],
    ['missing project_token', guideInstallBody({ config: { api_secret: 's' } }), 'project_token'],
    ['empty project_token', guideInstallBody({ config: { project_token: '', api_secret: 's' } }), 'project_token'],
    ['missing api_secret', guideInstallBody({ config: { project_token: 't' } }), 'api_secret'],
    ['empty api_secret', guideInstallBody({ config: { project_token: 't', api_secret: '' } }), 'api_secret'],
    ['eu_data_residency not boolean', guideInstallBody({ config: { project_token: 't', api_secret: 's', eu_data_residency: 'yes' } }), 'eu_data_residency'],
    ['project_token not a string', guideInstallBody({ config: { project_token: 42, api_secret: 's' } }), 'project_token'],
    ['unknown config property', guideInstallBody({ config: { project_token: 't', api_secret: 's', region: 'in' } }), 'region'],
    ['unknown top-level property', { ...guideInstallBody(), color: 'red' }, 'color'],
    ['oversized project_token', guideInstallBody({ config: { project_token: 'x'.repeat(256), api_secret: 's' } }), 'project_token'],
    ['oversized name', guideInstallBody({ name: 'n'.repeat(101) }), 'name'],
    ['blank name', guideInstallBody({ name: '   ' }), 'name'],
    ['a tab in the name', guideInstallBody({ name: 'Mixpanel\tprod' }), 'name'],
    ['a line break in the name', guideInstallBody({ name: 'Mixpanel\nprod' }), 'name'],
    ['DEL in the name', guideInstallBody({ name: 'Mixpanel\u007f' }), 'name'],
    ['missing config', { name: 'x' }, 'config'],
    ['wrong delivery_mode', guideInstallBody({ delivery_mode: 'client_side' }), 'delivery_mode'],
  ])('%s → 400 VALIDATION_ERROR naming the field', async (_label, body, field) => {
    const res = await install(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.message).toContain(field);
  });

  it.each([
    ['both regions', { in_data_residency: true, eu_data_residency: true }, [['body.config.in_data_residency', /cannot be combined with eu_data_residency/]]],
    ['a service account without its secret and project', { service_account_username: 'sa' }, [
      ['body.config.service_account_secret', /is required with service_account_username/],
      ['body.config.project_id', /is required with service_account_username/],
    ]],
    ['a project id alone', { project_id: '12' }, [['body.config.service_account_username', /required with project_id/], ['body.config.service_account_secret', /required with project_id/]]],
    ['a project id that is not a number', { service_account_username: 'sa', service_account_secret: 's', project_id: 'abc' }, [['body.config.project_id', /must match pattern/]]],
    ['an empty username', { service_account_username: '', service_account_secret: 's', project_id: '1' }, [['body.config.service_account_username', /fewer than 1 characters/]]],
  ])('%s → 400 naming each field; nothing is installed', async (_label, extra, expected) => {
    const org = `rules-${_label.length}`;
    const res = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth(org)).send(guideInstallBody({ config: { project_token: 't', api_secret: 's', ...extra } }));
    expect(res.status).toBe(400);
    for (const [path, message] of expected as [string, RegExp][]) {
      expect(res.body.error.details).toContainEqual({ path, message: expect.stringMatching(message) });
    }
    expect((await t.request.get('/v1/admin/integrations').set(t.auth(org))).body.data).toHaveLength(0);
  });

  it('a service account: shown masked and sealed apart; removed field by field only all together; a revision that used it restores only while its secret is stored', async () => {
    const account = { service_account_username: 'sa.acme', service_account_secret: 'sa-secret-77', project_id: '1234' };
    const res = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('sa-org')).send(guideInstallBody({ config: { project_token: 't', api_secret: 's', ...account } }));
    expect(res.status).toBe(201);
    expect(res.body.config).toEqual({ project_token: 't', api_secret: '***', eu_data_residency: false, in_data_residency: false, ...account, service_account_secret: '***' });
    const id = res.body.id as string;
    const sealed = await t.db.knex('integration_secrets').where({ integration_id: id }).orderBy('field').pluck('field');
    expect(sealed).toEqual(['api_secret', 'service_account_secret']);
    expect(JSON.stringify(await t.db.knex.raw('SELECT * FROM integrations, integration_revisions, audit_logs'))).not.toContain('sa-secret-77');
    await expect(t.services.integrations.importSecret({ orgId: 'sa-org', id, config: { project_token: 't', eu_data_residency: false, ...account, service_account_secret: '***' } })).resolves.toBe('sa-secret-77');

    const patch = (config: object) => t.request.patch(`/v1/admin/integrations/${id}`).set(t.auth('sa-org')).send({ config });
    const partly = await patch({ service_account_secret: null });
    expect(partly.status).toBe(400);
    expect(partly.body.error.details).toEqual([{ path: 'body.config.service_account_secret', message: expect.stringMatching(/is required with service_account_username and project_id/) }]);
    expect((await patch({ project_token: null })).body.error.details).toEqual([{ path: 'body.config.project_token', message: 'must be string' }]);

    const removed = await patch({ service_account_username: null, service_account_secret: null, project_id: null });
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ revision: 2, config: { project_token: 't', api_secret: '***', eu_data_residency: false, in_data_residency: false } });
    expect(removed.body.config).not.toHaveProperty('service_account_username');
    const revisions = (await t.request.get(`/v1/admin/integrations/${id}/revisions`).set(t.auth('sa-org'))).body.data;
    expect(revisions[0].change_summary).toBe('Changed project_id, service_account_secret, service_account_username');
    expect(await t.db.knex('integration_secrets').where({ integration_id: id }).pluck('field')).toEqual(['api_secret']);

    const restore = await t.request.post(`/v1/admin/integrations/${id}/revisions/1/restore`).set(t.auth('sa-org'));
    expect(restore.status).toBe(400);
    expect(restore.body.error.details).toEqual([{ path: 'config.service_account_secret', message: expect.stringMatching(/was removed after revision 1/) }]);
    expect((await patch(account)).body).toMatchObject({ revision: 3, config: { service_account_username: 'sa.acme', service_account_secret: '***', project_id: '1234' } });
    expect((await t.request.post(`/v1/admin/integrations/${id}/revisions/2/restore`).set(t.auth('sa-org'))).body).toMatchObject({ revision: 4 });
    expect((await t.request.post(`/v1/admin/integrations/${id}/revisions/1/restore`).set(t.auth('sa-org'))).body.config).toMatchObject({ service_account_username: 'sa.acme' });
  });

  it('the mask ("***") as api_secret → 400 saying it is the mask; nothing is installed', async () => {
    const res = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('masked')).send(guideInstallBody({ config: { project_token: 't', api_secret: '***' } }));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ path: 'body.config.api_secret', message: expect.stringContaining('the mask shown in place of the secret') }] });
    expect((await t.request.get('/v1/admin/integrations').set(t.auth('masked'))).body.data).toEqual([]);
  });

  it('malformed JSON → 400 in the error shape', async () => {
    const res = await t.request
      .post('/v1/admin/integration-catalog/mixpanel/install')
      .set(t.auth('acme'))
      .set('Content-Type', 'application/json')
      .send('{"name": ');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('a body over 1 MB → 413', async () => {
    const res = await install(guideInstallBody({ name: 'x'.repeat(1_100_000) }));
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('auth', () => {
  const get = (authorization?: string) => {
    const r = t.request.get('/v1/admin/integrations');
    return authorization === undefined ? r : r.set('Authorization', authorization);
  };
  const now = () => Math.floor(Date.now() / 1000);

  it.each([
    ['missing header', undefined],
    ['not a bearer', 'Basic abc'],
    ['garbled token', 'Bearer not.a.jwt'],
    ['wrong signature', `Bearer ${jwt.sign({ sub: 'u', org_id: 'acme', role: 'admin' }, 'another-secret-another-secret-another', { expiresIn: 60 })}`],
    ['alg none', `Bearer ${jwt.sign({ sub: 'u', org_id: 'acme', role: 'admin', exp: now() + 60 }, '', { algorithm: 'none' })}`],
    ['HS512 instead of HS256', `Bearer ${jwt.sign({ sub: 'u', org_id: 'acme', role: 'admin' }, TEST_JWT_SECRET, { algorithm: 'HS512', expiresIn: 60 })}`],
    ['no exp claim', `Bearer ${jwt.sign({ sub: 'u', org_id: 'acme', role: 'admin' }, TEST_JWT_SECRET)}`],
    ['no org_id', `Bearer ${jwt.sign({ sub: 'u', role: 'admin' }, TEST_JWT_SECRET, { expiresIn: 60 })}`],
    ['unknown role', `Bearer ${jwt.sign({ sub: 'u', org_id: 'acme', role: 'root' }, TEST_JWT_SECRET, { expiresIn: 60 })}`],
  ])('%s → 401 INVALID_TOKEN', async (_label, header) => {
    const res = await get(header);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_TOKEN');
  });

  it('expired → 401 EXPIRED_TOKEN', async () => {
    const expired = jwt.sign({ sub: 'u', org_id: 'acme', role: 'admin', exp: now() - 10 }, TEST_JWT_SECRET);
    const res = await get(`Bearer ${expired}`);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('EXPIRED_TOKEN');
  });

  it('viewer may read but not install → 403 FORBIDDEN', async () => {
    expect((await t.request.get('/v1/admin/integrations').set(t.auth('acme', 'viewer'))).status).toBe(200);
    const res = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('acme', 'viewer')).send(guideInstallBody({ name: 'v' }));
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
  });

  it('checks iss and aud when configured', async () => {
    const strict = await startTestApp({ JWT_ISSUER: 'signal', JWT_AUDIENCE: 'management' }, t.db);
    const plain = jwt.sign({ sub: 'u', org_id: 'acme', role: 'admin' }, TEST_JWT_SECRET, { expiresIn: 60 });
    expect((await strict.request.get('/v1/admin/integrations').set('Authorization', `Bearer ${plain}`)).status).toBe(401);
    const good = jwt.sign({ sub: 'u', org_id: 'acme', role: 'admin' }, TEST_JWT_SECRET, { expiresIn: 60, issuer: 'signal', audience: 'management' });
    expect((await strict.request.get('/v1/admin/integrations').set('Authorization', `Bearer ${good}`)).status).toBe(200);
    await strict.close();
  });

  it('unknown routes → 404 in the error shape', async () => {
    const res = await t.request.get('/v1/admin/nope').set(t.auth('acme'));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    const outside = await t.request.get('/nope');
    expect(outside.status).toBe(404);
    expect(outside.body.error.code).toBe('NOT_FOUND');
  });
});

describe('org isolation and lists', () => {
  it('another org cannot see or read an integration', async () => {
    const created = await t.request
      .post('/v1/admin/integration-catalog/mixpanel/install')
      .set(t.auth('initech'))
      .send(guideInstallBody({ name: 'Initech only' }));
    const other = await t.request.get(`/v1/admin/integrations/${created.body.id}`).set(t.auth('acme'));
    expect(other.status).toBe(404);
    const otherBp = await t.request.get(`/v1/admin/integrations/${created.body.id}/blueprint`).set(t.auth('acme'));
    expect(otherBp.status).toBe(404);
    const list = await t.request.get('/v1/admin/integrations?limit=100').set(t.auth('acme'));
    expect(list.body.data.map((i: { id: string }) => i.id)).not.toContain(created.body.id);
  });

  it('pages with cursor and limit', async () => {
    for (let i = 0; i < 5; i++) {
      await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('paged')).send(guideInstallBody({ name: `P${i}` }));
    }
    const first = await t.request.get('/v1/admin/integrations?limit=2').set(t.auth('paged'));
    expect(first.body.data).toHaveLength(2);
    expect(first.body.has_more).toBe(true);
    const names = [...first.body.data.map((d: { name: string }) => d.name)];
    let cursor = first.body.next_cursor;
    while (cursor) {
      const next = await t.request.get(`/v1/admin/integrations?limit=2&cursor=${cursor}`).set(t.auth('paged'));
      names.push(...next.body.data.map((d: { name: string }) => d.name));
      cursor = next.body.next_cursor;
    }
    expect(names).toEqual(['P4', 'P3', 'P2', 'P1', 'P0']);
    expect((await t.request.get('/v1/admin/integrations?limit=101').set(t.auth('paged'))).status).toBe(400);
    expect((await t.request.get('/v1/admin/integrations?cursor=garbage').set(t.auth('paged'))).status).toBe(400);
  });

  it('pages through rows written within one millisecond without skipping any (the cursor keeps microseconds)', async () => {
    const installed = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('micro')).send(guideInstallBody());
    const id = installed.body.id as string;
    // Newest first: 5 rows a few microseconds apart, ids in the opposite order of their times.
    const times = ['2026-12-01T10:00:00.123100Z', '2026-12-01T10:00:00.123200Z', '2026-12-01T10:00:00.123300Z', '2026-12-01T10:00:00.123400Z', '2026-12-01T10:00:00.123500Z'];
    const rows = times.map((created_at, i) => ({
      id: 900 - i, org_id: 'micro', integration_id: id, endpoint: '/import', host: 'api.mixpanel.com', event_count: i + 1,
      http_status: 200, status: 'delivered', attempt: 1, duration_ms: 5, created_at,
    }));
    await t.db.knex('delivery_logs').insert(rows);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { data: { event_count: number }[]; next_cursor: string | null } } = await t.request
        .get(`/v1/admin/integrations/${id}/deliveries?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
        .set(t.auth('micro'));
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((d) => d.event_count));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([5, 4, 3, 2, 1]);
  });

  it('GET by a malformed id → 400', async () => {
    const res = await t.request.get('/v1/admin/integrations/not-a-uuid').set(t.auth('acme'));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });
});

describe('catalog', () => {
  it('lists and filters by category', async () => {
    const all = await t.request.get('/v1/admin/integration-catalog').set(t.auth('acme', 'viewer'));
    expect(all.status).toBe(200);
    expect(all.body.data.map((e: { key: string }) => e.key)).toEqual(['mixpanel']);
    const analytics = await t.request.get('/v1/admin/integration-catalog?category=analytics').set(t.auth('acme', 'viewer'));
    expect(analytics.body.data).toHaveLength(1);
    const ads = await t.request.get('/v1/admin/integration-catalog?category=advertising').set(t.auth('acme', 'viewer'));
    expect(ads.body.data).toHaveLength(0);
    expect((await t.request.get('/v1/admin/integration-catalog?category=games').set(t.auth('acme'))).status).toBe(400);
  });

  it('returns Mixpanel with the guide\'s fields (then the optional India residency and service account) and variants', async () => {
    const res = await t.request.get('/v1/admin/integration-catalog/mixpanel').set(t.auth('acme', 'viewer'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ key: 'mixpanel', name: 'Mixpanel', category: 'analytics', status: 'ga' });
    expect(res.body.config_fields.map((f: { key: string; type: string; required: boolean }) => [f.key, f.type, f.required])).toEqual([
      ['project_token', 'string', true],
      ['api_secret', 'secret', true],
      ['eu_data_residency', 'boolean', false],
      ['in_data_residency', 'boolean', false],
      ['service_account_username', 'string', false],
      ['service_account_secret', 'secret', false],
      ['project_id', 'string', false],
    ]);
    expect(res.body).not.toHaveProperty('config_rules');
    expect(res.body.config_fields[2].default).toBe(false);
    expect(res.body.variants.map((v: { key: string }) => v.key)).toEqual(['default', 'retail']);
    expect(res.body.variants[1].description).toContain('Ecommerce-optimized');
    expect((await t.request.get('/v1/admin/integration-catalog/nope').set(t.auth('acme'))).status).toBe(404);
    expect((await t.request.get('/v1/admin/integration-catalog/mixpanel/variants/nope/blueprint').set(t.auth('acme'))).status).toBe(404);
  });

  it('seeding the variant blueprints again changes nothing', async () => {
    const { CATALOG } = await import('../src/catalog/catalog.js');
    expect(await t.services.catalogBlueprints.seed(CATALOG)).toBe(0);
    expect(await t.db.knex('catalog_blueprints').count({ n: '*' })).toEqual([{ n: 2 }]);
  });
});

describe('health and contract', () => {
  it('healthz, readyz, openapi.yaml and docs need no auth', async () => {
    expect((await t.request.get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await t.request.get('/readyz')).body).toEqual({ status: 'ok', database: 'ok', migrations: 'applied' });
    const spec = await t.request.get('/openapi.yaml');
    expect(spec.status).toBe(200);
    expect(spec.text).toContain('openapi: 3.0.3');
    const docs = await t.request.get('/docs');
    expect(docs.text).toContain('/docs/assets/swagger-ui-bundle.js');
    const bundle = await t.request.get('/docs/assets/swagger-ui-bundle.js');
    expect(bundle.status).toBe(200);
  });
});
