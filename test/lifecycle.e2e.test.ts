import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SPEC_PATH } from '../src/spec.js';
import { ROLES, roleAtLeast, type Role } from '../src/auth/actor.js';
import { SecretBox } from '../src/secrets/secret-box.js';
import { rotateSecrets } from '../src/secrets/rotate-secrets.js';
import { page } from './fixtures/events.js';
import { guideInstallBody, startTestApp, type TestApp } from './support/test-app.js';
/** A config that authenticates /import with the API secret. */
const API_SECRET_CONFIG = { project_token: 't', eu_data_residency: false };

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ MAX_INTEGRATIONS_PER_ORG: '1000' }); // it installs one per route it checks, most in one org
});
afterAll(() => t.close());

let seq = 0;
const install = async (org = 'acme', overrides: Record<string, unknown> = {}) => {
  const res = await t.request
    .post('/v1/admin/integration-catalog/mixpanel/install')
    .set(t.auth(org))
    .send(guideInstallBody({ name: `I${++seq}`, ...overrides }));
  expect(res.status).toBe(201);
  return res.body as { id: string; revision: number; blueprint: Record<string, unknown> };
};

type Op = { method: string; path: string; minRole: Role; body: boolean };
const spec = parse(readFileSync(SPEC_PATH, 'utf8')) as { paths: Record<string, Record<string, { 'x-min-role'?: Role; requestBody?: unknown }>> };
const adminOps: Op[] = Object.entries(spec.paths)
  .filter(([p]) => p.startsWith('/v1/admin'))
  .flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
      .map(([method, op]) => ({ method, path, minRole: op['x-min-role'] as Role, body: op.requestBody !== undefined })),
  );

/** A request for an operation that passes validation, so only the role decides. */
async function validRequest(op: Op, org = 'acme') {
  const integ = await install(org);
  const key = (await t.request.post('/v1/admin/ingest-keys').set(t.auth(org)).send({ name: 'k' })).body;
  const url = op.path
    .replace('{id}', integ.id)
    .replace('{key}', 'mixpanel')
    .replace('{variant}', 'default')
    .replace('{n}', '1')
    .replace('{keyId}', key.id);
  const bodies: Record<string, unknown> = {
    'post /v1/admin/integration-catalog/{key}/install': guideInstallBody({ name: `R${++seq}` }),
    'patch /v1/admin/integrations/{id}': { enabled: true },
    'put /v1/admin/integrations/{id}/blueprint': integ.blueprint,
    'post /v1/admin/integrations/{id}/preview': { events: [page()] },
    'post /v1/admin/integrations/{id}/dead-letters/replay': {},
    'post /v1/admin/ingest-keys': { name: 'n' },
  };
  return { url, body: bodies[`${op.method} ${op.path}`] };
}

describe('who may do what (every route × every role, from openapi.yaml)', () => {
  it('declares a role on every Management API operation', () => {
    expect(adminOps.length).toBeGreaterThanOrEqual(20);
    for (const op of adminOps) expect(ROLES).toContain(op.minRole);
  });

  it.each(adminOps.map((op) => [`${op.method.toUpperCase()} ${op.path}`, op] as const))('%s', async (_name, op) => {
    for (const role of ROLES) {
      const { url, body } = await validRequest(op);
      const req = (t.request as unknown as Record<string, (u: string) => import('supertest').Test>)[op.method](url).set(t.auth('acme', role));
      const res = op.body ? await req.send(body as object) : await req;
      const allowed = roleAtLeast(role, op.minRole);
      expect([role, res.status === 403]).toEqual([role, !allowed]);
      if (allowed) expect(res.status).toBeLessThan(400);
    }
  });
});

describe('org isolation on every route', () => {
  it.each(adminOps.filter((op) => op.path.includes('{id}') || op.path.includes('{keyId}')).map((op) => [`${op.method.toUpperCase()} ${op.path}`, op] as const))(
    '%s with another org\'s id → 404',
    async (_name, op) => {
      const { url, body } = await validRequest(op, 'acme');
      const req = (t.request as unknown as Record<string, (u: string) => import('supertest').Test>)[op.method](url).set(t.auth('globex', 'owner'));
      const res = op.body ? await req.send(body as object) : await req;
      expect(res.status).toBe(404);
      expect(JSON.stringify(res.body)).not.toContain('acme');
    },
  );
});

describe('change and undo', () => {
  it('PATCH config makes a revision; name and enabled do not; a new secret replaces the old one', async () => {
    const integ = await install();
    const before = await t.db.knex('integration_secrets').where({ integration_id: integ.id }).first();
    const res = await t.request
      .patch(`/v1/admin/integrations/${integ.id}`)
      .set(t.auth('acme', 'editor'))
      .send({ config: { api_secret: 'rotated-secret-1', eu_data_residency: true }, change_summary: 'Move to EU' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ revision: 2, region: 'eu', config: { api_secret: '***', eu_data_residency: true } });
    const after = await t.db.knex('integration_secrets').where({ integration_id: integ.id }).first();
    expect(after.ciphertext.equals(before.ciphertext)).toBe(false);
    await expect(t.services.integrations.importSecret({ orgId: 'acme', id: integ.id, config: API_SECRET_CONFIG })).resolves.toBe('rotated-secret-1');
    const renamed = await t.request.patch(`/v1/admin/integrations/${integ.id}`).set(t.auth('acme', 'editor')).send({ name: 'Renamed', enabled: false });
    expect(renamed.body).toMatchObject({ name: 'Renamed', enabled: false, revision: 2 });
    const rev2 = await t.request.get(`/v1/admin/integrations/${integ.id}/revisions/2`).set(t.auth('acme', 'viewer'));
    expect(rev2.body).toMatchObject({ revision_number: 2, change_summary: 'Move to EU', created_by: 'user-editor' });
    expect(JSON.stringify(rev2.body)).not.toContain('rotated-secret-1');
  });

  it('PATCH validation: unknown field, empty secret, wrong type, empty body → 400', async () => {
    const integ = await install();
    for (const body of [{ config: { region: 'eu' } }, { config: { api_secret: '' } }, { enabled: 'yes' }, {}, { config: {} }]) {
      const res = await t.request.patch(`/v1/admin/integrations/${integ.id}`).set(t.auth('acme')).send(body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
    }
  });

  it('restore makes a new revision equal to the old one; the list pages newest first', async () => {
    const integ = await install();
    await t.request.patch(`/v1/admin/integrations/${integ.id}`).set(t.auth('acme')).send({ config: { eu_data_residency: true } });
    await t.request
      .put(`/v1/admin/integrations/${integ.id}/blueprint`)
      .set(t.auth('acme'))
      .send({ ...integ.blueprint, identity: { merge_api: 'simplified' } });
    const restored = await t.request.post(`/v1/admin/integrations/${integ.id}/revisions/1/restore`).set(t.auth('acme', 'editor'));
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ revision: 4, region: 'us' });
    expect(restored.body.blueprint).toEqual(integ.blueprint);
    const list = await t.request.get(`/v1/admin/integrations/${integ.id}/revisions?limit=3`).set(t.auth('acme', 'viewer'));
    expect(list.body.data.map((r: { revision_number: number }) => r.revision_number)).toEqual([4, 3, 2]);
    expect(list.body.has_more).toBe(true);
    const rest = await t.request.get(`/v1/admin/integrations/${integ.id}/revisions?cursor=${list.body.next_cursor}`).set(t.auth('acme'));
    expect(rest.body.data.map((r: { revision_number: number }) => r.revision_number)).toEqual([1]);
    expect(list.body.data[0].change_summary).toBe('Restored revision 1');
    expect((await t.request.post(`/v1/admin/integrations/${integ.id}/revisions/99/restore`).set(t.auth('acme'))).status).toBe(404);
  });

  it('concurrent PATCHes with the same If-Match: one wins, the other gets 412 (config, name or enabled alike)', async () => {
    const integ = await install();
    const etag = (await t.request.get(`/v1/admin/integrations/${integ.id}`).set(t.auth('acme'))).headers.etag;
    const send = (body: object) => t.request.patch(`/v1/admin/integrations/${integ.id}`).set(t.auth('acme')).set('If-Match', etag).send(body);
    const results = await Promise.all([send({ config: { eu_data_residency: true } }), send({ name: 'Mine' })]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
    const fresh = (await t.request.get(`/v1/admin/integrations/${integ.id}`).set(t.auth('acme'))).headers.etag;
    const renames = await Promise.all([
      t.request.patch(`/v1/admin/integrations/${integ.id}`).set(t.auth('acme')).set('If-Match', fresh).send({ name: 'A' }),
      t.request.patch(`/v1/admin/integrations/${integ.id}`).set(t.auth('acme')).set('If-Match', fresh).send({ name: 'B' }),
    ]);
    expect(renames.map((r) => r.status).sort()).toEqual([200, 412]);
  });

  it('concurrent PATCHes without If-Match are serialised: both land as revisions, none is lost', async () => {
    const integ = await install();
    const results = await Promise.all(
      ['t1', 't2', 't3'].map((tok) => t.request.patch(`/v1/admin/integrations/${integ.id}`).set(t.auth('acme')).send({ config: { project_token: tok } })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const list = await t.request.get(`/v1/admin/integrations/${integ.id}/revisions`).set(t.auth('acme'));
    expect(list.body.data.map((r: { revision_number: number }) => r.revision_number)).toEqual([4, 3, 2, 1]);
  });

  it('DELETE hides it, destroys the secret, keeps revisions and audit', async () => {
    const integ = await install();
    expect((await t.request.delete(`/v1/admin/integrations/${integ.id}`).set(t.auth('acme')).set('If-Match', '"7"')).status).toBe(412);
    expect((await t.request.delete(`/v1/admin/integrations/${integ.id}`).set(t.auth('acme'))).status).toBe(204);
    expect((await t.request.get(`/v1/admin/integrations/${integ.id}`).set(t.auth('acme'))).status).toBe(404);
    expect(await t.db.knex('integration_secrets').where({ integration_id: integ.id })).toHaveLength(0);
    expect(await t.db.knex('integration_revisions').where({ integration_id: integ.id })).toHaveLength(1);
    const audit = await t.request.get(`/v1/admin/audit-logs?resource_id=${integ.id}`).set(t.auth('acme'));
    expect(audit.body.data.map((a: { action: string }) => a.action)).toEqual(['integration.delete', 'integration.install']);
  });
});

describe('audit', () => {
  it('records every write with who, what, old/new and IP; never a secret', async () => {
    const integ = await install('audited', { config: { project_token: 'tok', api_secret: 'first-secret-xyz' } });
    await t.request.patch(`/v1/admin/integrations/${integ.id}`).set(t.auth('audited', 'editor', 'alice')).send({ config: { api_secret: 'second-secret-xyz' } });
    await t.request.put(`/v1/admin/integrations/${integ.id}/blueprint`).set(t.auth('audited')).send(integ.blueprint);
    await t.request.post(`/v1/admin/integrations/${integ.id}/revisions/1/restore`).set(t.auth('audited'));
    await t.request.post(`/v1/admin/integrations/${integ.id}/dead-letters/replay`).set(t.auth('audited')).send({});
    const key = (await t.request.post('/v1/admin/ingest-keys').set(t.auth('audited')).send({ name: 'k' })).body;
    await t.request.delete(`/v1/admin/ingest-keys/${key.id}`).set(t.auth('audited'));
    await t.request.delete(`/v1/admin/integrations/${integ.id}`).set(t.auth('audited'));

    const res = await t.request.get('/v1/admin/audit-logs?limit=100').set(t.auth('audited', 'owner'));
    expect(res.status).toBe(200);
    expect(res.body.data.map((a: { action: string }) => a.action).reverse()).toEqual([
      'integration.install',
      'integration.update',
      'integration.blueprint.replace',
      'integration.revision.restore',
      'dead_letters.replay',
      'ingest_key.create',
      'ingest_key.revoke',
      'integration.delete',
    ]);
    const update = res.body.data.find((a: { action: string }) => a.action === 'integration.update');
    expect(update).toMatchObject({ user_id: 'alice', resource_type: 'integration', resource_id: integ.id });
    expect(update.ip_address).toBeTruthy();
    expect(update.changes.old.config.api_secret).toBe('***');
    const everything = JSON.stringify(await t.db.knex('audit_logs').select('*'));
    expect(everything).not.toContain('first-secret-xyz');
    expect(everything).not.toContain('second-secret-xyz');
    const keysOnly = await t.request.get('/v1/admin/audit-logs?resource_type=ingest_key').set(t.auth('audited'));
    expect(keysOnly.body.data).toHaveLength(2);
    const future = await t.request.get(`/v1/admin/audit-logs?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`).set(t.auth('audited'));
    expect(future.body.data).toHaveLength(0);
    expect((await t.request.get('/v1/admin/audit-logs').set(t.auth('audited', 'editor'))).status).toBe(403);
    expect((await t.request.get('/v1/admin/audit-logs').set(t.auth('other-org'))).body.data).toHaveLength(0);
  });
});

describe('limits and headers', () => {
  it('rate limit per user is shared by two app instances on one database', async () => {
    const a = await startTestApp({ RATE_LIMIT_PER_MINUTE: '5' }, t.db);
    const b = await startTestApp({ RATE_LIMIT_PER_MINUTE: '5' }, t.db);
    try {
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await (i % 2 ? b : a).request.get('/v1/admin/integrations').set(t.auth('limited', 'viewer', 'u1'))).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
      const limited = await b.request.get('/v1/admin/integrations').set(t.auth('limited', 'viewer', 'u1'));
      expect(limited.body.error.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect((await a.request.get('/v1/admin/integrations').set(t.auth('limited', 'viewer', 'u2'))).status).toBe(200);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('non-JSON bodies → 415; security headers are set; CORS only for configured origins', async () => {
    const res = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('acme')).set('Content-Type', 'text/plain').send('name=x');
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const health = await t.request.get('/healthz');
    expect(health.headers['x-content-type-options']).toBe('nosniff');
    expect(health.headers['access-control-allow-origin']).toBeUndefined();
    const ui = await startTestApp({ CORS_ORIGINS: 'https://ui.example.com' }, t.db);
    try {
      const pre = await ui.request.options('/v1/admin/integrations').set('Origin', 'https://ui.example.com').set('Access-Control-Request-Method', 'PATCH');
      expect(pre.headers['access-control-allow-origin']).toBe('https://ui.example.com');
      const other = await ui.request.get('/healthz').set('Origin', 'https://evil.example.com');
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await ui.close();
    }
  });
});

describe('encryption key rotation', () => {
  it('re-encrypts old-key rows under the current key, resumably; the old key can then go', async () => {
    const oldKey = t.config.encryptionKeys[0];
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await install('rot', { config: { project_token: 't', api_secret: `rot-secret-${i}` } })).id);
    const newKey = { id: 'k2', key: randomBytes(32) };
    const both = new SecretBox([newKey, oldKey]);
    // One row already under the new key (a secret changed after the new key was deployed).
    const rotatedApp = await startTestApp({ ENCRYPTION_KEYS: `k2:${newKey.key.toString('base64')},k1:${oldKey.key.toString('base64')}` }, t.db);
    await rotatedApp.request.patch(`/v1/admin/integrations/${ids[0]}`).set(t.auth('rot')).send({ config: { api_secret: 'rot-secret-0' } });
    await rotatedApp.close();
    await t.db.knex('integration_secrets').insert({
      ...(await t.db.knex('integration_secrets').where({ integration_id: ids[1] }).first()),
      field: 'legacy',
      key_id: 'gone',
    });

    const underOldKey = Number((await t.db.knex('integration_secrets').where({ key_id: 'k1' }).count({ n: '*' }).first())?.n);
    expect(await t.db.knex('integration_secrets').where({ integration_id: ids[0] }).pluck('key_id')).toEqual(['k2']);
    const first = await rotateSecrets(t.db.knex, both, 2);
    expect(first.rotated).toBe(underOldKey); // every k1 row in the database (other tests' too); ids[0] was k2 already
    expect(await t.db.knex('integration_secrets').where({ key_id: 'k1' })).toHaveLength(0);
    expect(first.unknownKey).toBe(1);
    const again = await rotateSecrets(t.db.knex, both, 2);
    expect(again.rotated).toBe(0);
    const keyIds = await t.db.knex('integration_secrets').whereIn('integration_id', ids).where({ field: 'api_secret' }).pluck('key_id');
    expect(new Set(keyIds)).toEqual(new Set(['k2']));
    const onlyNew = await startTestApp({ ENCRYPTION_KEYS: `k2:${newKey.key.toString('base64')}` }, t.db);
    try {
      for (let i = 0; i < 5; i++) await expect(onlyNew.services.integrations.importSecret({ orgId: 'rot', id: ids[i], config: API_SECRET_CONFIG })).resolves.toBe(`rot-secret-${i}`);
    } finally {
      await onlyNew.close();
    }
  });
});

describe('delivery log retention', () => {
  it('prunes request logs older than the retention, keeps newer ones', async () => {
    const { DeliveryStore } = await import('../src/delivery/delivery-store.js');
    const row = { org_id: 'acme', integration_id: '00000000-0000-4000-8000-00000000abcd', endpoint: '/import', host: 'h', event_count: 1, status: 'delivered', attempt: 1, duration_ms: 1 };
    await t.db.knex('delivery_logs').insert([
      { ...row, created_at: new Date(Date.now() - 80 * 3600_000) },
      { ...row, created_at: new Date(Date.now() - 3600_000) },
    ]);
    expect(await new DeliveryStore(t.db.knex).pruneLogs(72)).toBe(1);
    expect(await t.db.knex('delivery_logs').where({ integration_id: row.integration_id })).toHaveLength(1);
  });
});
