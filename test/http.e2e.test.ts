import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SPEC_PATH } from '../src/spec.js';
import { capturingLogger, type LogLine } from './support/delivery-harness.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { closeServer, listen } from '../src/http/listen.js';
import supertest from 'supertest';
import { guideInstallBody, startTestApp, type TestApp } from './support/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ CORS_ORIGINS: 'https://ui.example.com' });
});
afterAll(() => t.close());

describe('request ids and the request log', () => {
  it('answer X-Request-Id (a new one, or the caller\'s), and log the full path, status, org and id', async () => {
    const lines: LogLine[] = [];
    const request = supertest(createApp({ config: t.config, knex: t.db.knex, logger: capturingLogger(lines), services: t.services }));
    const res = await request.get('/v1/admin/integrations?limit=5').set(t.auth('acme', 'viewer'));
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const mine = await request.get('/v1/admin/integration-catalog/mixpanel').set(t.auth('globex', 'viewer')).set('X-Request-Id', 'trace-42');
    expect(mine.headers['x-request-id']).toBe('trace-42');
    const bad = await request.get('/healthz').set('X-Request-Id', 'has spaces; and "quotes"');
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    const logged = lines.filter((l) => l.msg === 'request');
    expect(logged[0]).toMatchObject({ request_id: res.headers['x-request-id'], method: 'GET', path: '/v1/admin/integrations', status: 200, org_id: 'acme' });
    expect(logged[1]).toMatchObject({ request_id: 'trace-42', path: '/v1/admin/integration-catalog/mixpanel', org_id: 'globex' });
    expect(JSON.stringify(lines)).not.toContain('Bearer');
  });
});

describe('the client address behind proxies (TRUST_PROXY)', () => {
  /** The address the audit log records for a change sent with this X-Forwarded-For, under these settings. */
  const auditedAddress = async (trustProxy: string | undefined, org: string) => {
    const config = { ...t.config, ...(trustProxy === undefined ? {} : { trustProxy: loadConfig({ JWT_SECRET: 'x'.repeat(32), ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'), TRUST_PROXY: trustProxy }).trustProxy }) };
    // Listening on every address as the service does: an IPv4 client is seen as ::ffff:127.0.0.1 there.
    const server = await listen(createApp({ config, knex: t.db.knex, logger: capturingLogger([]), services: t.services }), 0, 'the API');
    try {
      const request = supertest(server);
      const res = await request.post('/v1/admin/ingest-keys').set(t.auth(org)).set('X-Forwarded-For', '203.0.113.7, 10.1.2.3').send({ name: 'web' });
      expect(res.status).toBe(201);
      const audit = await request.get(`/v1/admin/audit-logs?resource_id=${res.body.id}`).set(t.auth(org));
      return audit.body.data[0].ip_address as string;
    } finally {
      await closeServer(server);
    }
  };

  it('believes X-Forwarded-For from the proxies it names, hop by hop, and from no one when false', async () => {
    // Tests connect from 127.0.0.1: trusted by default (loopback), so the hop before it, 10.1.2.3, is the client.
    expect(await auditedAddress(undefined, 'tp-default')).toBe('10.1.2.3');
    // Trusting 10.0.0.0/8 too, the client is the address before that proxy.
    expect(await auditedAddress('loopback, 10.0.0.0/8', 'tp-subnet')).toBe('203.0.113.7');
    expect(await auditedAddress('2', 'tp-hops')).toBe('203.0.113.7');
    // A proxy not trusted: the connection's own address, whatever the header says.
    expect(await auditedAddress('false', 'tp-none')).toBe('127.0.0.1'); // not ::ffff:127.0.0.1, as the socket says
    expect(await auditedAddress('192.0.2.1', 'tp-other')).toBe('127.0.0.1');
  });
});

describe('an unexpected failure', () => {
  it('answers 500 with the request id that finds its log line, and nothing of the error itself', async () => {
    const lines: LogLine[] = [];
    const integrations = Object.create(t.services.integrations) as typeof t.services.integrations;
    integrations.list = async () => {
      throw new Error('secret internals: connection to 10.0.0.5 refused');
    };
    const services = { ...t.services, integrations } as typeof t.services;
    const request = supertest(createApp({ config: t.config, knex: t.db.knex, logger: capturingLogger(lines), services }));
    const res = await request.get('/v1/admin/integrations').set(t.auth('acme', 'viewer'));
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'INTERNAL', message: 'Internal server error', request_id: res.headers['x-request-id'] } });
    const logged = lines.find((l) => l.msg === 'unhandled error');
    expect(logged).toMatchObject({ request_id: res.headers['x-request-id'], path: '/v1/admin/integrations' });
    expect(JSON.stringify(logged)).toContain('secret internals');
  });
});

describe('security headers', () => {
  it('send no HSTS or upgrade-insecure-requests on plain HTTP by default', async () => {
    const res = await t.request.get('/healthz');
    expect(res.headers['strict-transport-security']).toBeUndefined();
    expect(res.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('send both when HSTS_MAX_AGE_SECONDS says the service is behind HTTPS', async () => {
    const https = await startTestApp({ HSTS_MAX_AGE_SECONDS: '31536000' }, t.db);
    const res = await https.request.get('/healthz');
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(res.headers['content-security-policy']).toContain('upgrade-insecure-requests');
    await https.close();
  });

  it('let the Management UI read the rate-limit headers, ETag and the request id', async () => {
    const res = await t.request.get('/v1/admin/integrations').set(t.auth('acme', 'viewer')).set('Origin', 'https://ui.example.com');
    expect(res.headers['access-control-allow-origin']).toBe('https://ui.example.com');
    const exposed = res.headers['access-control-expose-headers'].split(',');
    for (const h of ['RateLimit-Limit', 'RateLimit-Remaining', 'Retry-After', 'ETag', 'X-Request-Id']) expect(exposed).toContain(h);
    expect(res.headers['ratelimit-limit']).toBeDefined();
  });
});

describe('request validation', () => {
  it('reports every problem of a request in details, not only the first', async () => {
    const res = await t.request
      .post('/v1/admin/integration-catalog/mixpanel/install')
      .set(t.auth('acme'))
      .send({ name: '', variant: 7, config: { project_token: 'a b', api_secret: '' }, extra: true });
    expect(res.status).toBe(400);
    const paths = (res.body.error.details as { path: string }[]).map((d) => d.path);
    for (const p of ['body.name', 'body.variant', 'body.config.project_token', 'body.config.api_secret']) expect(paths).toContain(p);
    expect(res.body.error.details.length).toBeGreaterThanOrEqual(5);
  });
});

describe('the catalog serves a complete Management UI form', () => {
  const spec = parse(readFileSync(SPEC_PATH, 'utf8'));

  it('names the default variant, a docs link, and per field the rules and whether it can change later', async () => {
    const res = await t.request.get('/v1/admin/integration-catalog/mixpanel').set(t.auth('acme', 'viewer'));
    expect(res.body).toMatchObject({ default_variant: 'default', docs_url: expect.stringMatching(/^https:\/\//) });
    expect(res.body.variants.map((v: { key: string }) => v.key)).toContain(res.body.default_variant);
    const fields = Object.fromEntries((res.body.config_fields as { key: string }[]).map((f) => [f.key, f]));
    expect(fields.project_token).toMatchObject({ required: true, updatable: true, validation: { pattern: '^\\S+$', min_length: 1, max_length: 255 } });
    expect(fields.api_secret).toMatchObject({ type: 'secret', updatable: true });
    expect(fields.eu_data_residency).toMatchObject({ type: 'boolean', default: false, updatable: true });
  });

  it('states exactly the rules the contract enforces on install and on change', async () => {
    const res = await t.request.get('/v1/admin/integration-catalog/mixpanel').set(t.auth('acme', 'viewer'));
    const install = spec.components.schemas.MixpanelConfigInput.properties;
    const patch = spec.components.schemas.PatchRequest.properties.config.properties;
    for (const f of res.body.config_fields as { key: string; validation?: { pattern: string; min_length: number; max_length: number } }[]) {
      if (!f.validation) continue;
      for (const schema of [install[f.key], patch[f.key]]) {
        expect({ pattern: schema.pattern, min_length: schema.minLength, max_length: schema.maxLength }).toEqual(f.validation);
      }
    }
  });

  it('an install without a variant gets the default one', async () => {
    const body = guideInstallBody({ name: 'No variant' }) as Record<string, unknown>;
    delete body.variant;
    const res = await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('acme')).send(body);
    expect(res.status).toBe(201);
    expect(res.body.variant).toBe('default');
  });
});
