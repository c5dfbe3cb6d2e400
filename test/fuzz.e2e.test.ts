import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse } from 'yaml';
import { SPEC_PATH } from '../src/spec.js';
import { guideInstallBody, startTestApp, type TestApp } from './support/test-app.js';

/**
 * Schema-driven fuzzing of every operation in openapi.yaml: path and query values, bodies, tokens and
 * content types, valid and hostile. Whatever arrives, the answer is never a 5xx, is documented for
 * that operation, and (for errors) has our error shape. Budgeted: a few hundred requests.
 */
interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  statuses: Set<string>;
  query: string[];
  hasBody: boolean;
}

const spec = parse(readFileSync(SPEC_PATH, 'utf8'));
const resolve = (p: { $ref?: string } & Record<string, unknown>) =>
  p.$ref ? (p.$ref.split('/').slice(1).reduce((o: Record<string, unknown>, k) => o[k] as Record<string, unknown>, spec) as typeof p) : p;
const operations: Operation[] = Object.entries(spec.paths as Record<string, Record<string, Record<string, unknown>>>).flatMap(([path, item]) =>
  (['get', 'post', 'put', 'patch', 'delete'] as const)
    .filter((m) => item[m])
    .map((method) => {
      const op = item[method];
      const params = [...((item.parameters as unknown as object[]) ?? []), ...((op.parameters as unknown as object[]) ?? [])].map((p) => resolve(p as Record<string, unknown>));
      return {
        method,
        path,
        statuses: new Set(Object.keys(op.responses as object)),
        query: params.filter((p) => p.in === 'query').map((p) => p.name as string),
        hasBody: op.requestBody !== undefined,
      };
    }),
);

let t: TestApp;
let id: string;
let ingestKey: string;
beforeAll(async () => {
  t = await startTestApp({ METRICS_TOKEN: 'fuzz-metrics-token' });
  id = (await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('fuzz')).send(guideInstallBody())).body.id;
  ingestKey = (await t.request.post('/v1/admin/ingest-keys').set(t.auth('fuzz')).send({ name: 'fuzz' })).body.key;
});
afterAll(() => t.close());

const text = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '9', '-', '_', '.', ' ', '%', '/', '\u0000', 'é', '😀', '"', '\\', '{', '\n'), maxLength: 40 });
const value = fc.oneof(
  text,
  fc.constantFrom('mixpanel', 'default', 'retail', '1', '0', '-1', '2147483648', '99999999999999999999', '1e3', 'true', ''),
  fc.uuid().map(String),
  fc.constant('ID'), // the installed integration
  fc.constant('x'.repeat(300)),
);
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record({ name: fc.oneof(text, fc.jsonValue()), variant: fc.oneof(value, fc.jsonValue()), config: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }),
  fc.record({ events: fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 3 }), ids: fc.array(value, { maxLength: 3 }) }, { requiredKeys: [] }),
  fc.constant(guideInstallBody()),
  fc.array(
    fc.record(
      { type: fc.constantFrom('track', 'page', 'identify', 'group', 'alias', 'screen', 'x'), event: text, anonymousId: value, userId: fc.oneof(value, fc.constant(null)), properties: fc.jsonValue({ maxDepth: 5 }), context: fc.jsonValue({ maxDepth: 3 }) },
      { requiredKeys: ['type'] },
    ),
    { maxLength: 4 },
  ).map((events) => ({ events })),
);
const auth = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('admin', 'owner', 'editor', 'viewer').map((role) => `Bearer ${t.token('fuzz', role as 'admin')}`) },
  { weight: 1, arbitrary: fc.constantFrom('', 'Bearer', 'Bearer x.y.z', 'Basic Zm9vOmJhcg==', `Bearer ${'a'.repeat(5000)}`) },
  { weight: 1, arbitrary: fc.constant('Bearer fuzz-metrics-token') },
  { weight: 2, arbitrary: fc.constant('INGEST') },
);
const request = fc.record({
  op: fc.constantFrom(...operations),
  params: fc.array(value, { minLength: 3, maxLength: 3 }),
  query: fc.dictionary(fc.constantFrom('cursor', 'limit', 'status', 'category', 'resource_type', 'resource_id', 'from', 'to', 'unknown'), value, { maxKeys: 3 }),
  body: fc.option(body, { nil: undefined }),
  auth,
  contentType: fc.constantFrom('application/json', 'application/json', 'application/json', 'text/plain', 'application/json; charset=latin1'),
});

describe('every operation of openapi.yaml, fuzzed', () => {
  it('never answers 5xx, always documents the status, errors always in our shape', async () => {
    const seen = new Map<string, Set<number>>();
    await fc.assert(
      fc.asyncProperty(request, async ({ op, params, query, body: payload, auth: authorization, contentType }) => {
        let i = 0;
        const path = op.path.replace(/\{[^}]+\}/g, () => {
          const v = params[i++ % params.length];
          // An empty segment would address another route (the collection), not this operation.
          return encodeURIComponent(v === 'ID' ? id : v || '-');
        });
        const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, v === 'ID' ? id : v])).toString();
        let req = t.request[op.method](qs ? `${path}?${qs}` : path);
        if (authorization) req = req.set('Authorization', authorization === 'INGEST' ? `Bearer ${ingestKey}` : authorization);
        if (payload !== undefined && op.method !== 'get') req = req.set('Content-Type', contentType).send(JSON.stringify(payload));
        const res = await req;
        const where = `${op.method.toUpperCase()} ${path}${qs ? `?${qs}` : ''} → ${res.status} ${res.text.slice(0, 300)}`;
        seen.set(`${op.method} ${op.path}`, (seen.get(`${op.method} ${op.path}`) ?? new Set()).add(res.status));
        if (res.status >= 500 || !op.statuses.has(String(res.status))) throw new Error(`undocumented or server error: ${where}`);
        if (res.status >= 400 && res.status !== 431) {
          const e = res.body?.error;
          if (typeof e?.code !== 'string' || typeof e?.message !== 'string') throw new Error(`not our error shape: ${where}`);
        }
      }),
      { numRuns: 800, interruptAfterTimeLimit: 90_000 },
    );
    expect(seen.size).toBeGreaterThan(operations.length / 2); // most operations were reached
  }, 120_000);
});
