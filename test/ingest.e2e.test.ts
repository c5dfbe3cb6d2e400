import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import pg from 'pg';
import { withParsedEvents } from '../src/delivery/delivery-job.js';
import { QUEUE } from '../src/delivery/delivery-queue.js';
import { SLOW_BODY_MS } from '../src/ingest/ingest-admission.js';
import { IngestKeyStore, hashKey } from '../src/ingest/ingest-key-store.js';
import { page, track } from './fixtures/events.js';
import { counter } from './support/metrics-text.js';
import { guideInstallBody, startTestApp, type TestApp } from './support/test-app.js';

let t: TestApp;
let key: string;
let integrationId: string;

beforeAll(async () => {
  t = await startTestApp(); // no worker: jobs stay in the queue for inspection
  const created = await t.request.post('/v1/admin/ingest-keys').set(t.auth('acme')).send({ name: 'web' });
  key = created.body.key;
  integrationId = (await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('acme')).send(guideInstallBody())).body.id;
});
afterAll(() => t.close());

/** An ingestion key nobody made. */
const unknownKey = () => `dk_live_${randomUUID().replace(/-/g, '')}`;
const post = (body: unknown, k = key) => t.request.post('/v1/events').set('Authorization', `Bearer ${k}`).send(body as object);
const queuedEvents = async () => (await t.services.queue.peek(integrationId)).reduce((n, j) => n + j.events.length, 0);

describe('ingestion keys', () => {
  it('shows the key once, stores only its hash, lists without it', async () => {
    expect(key).toMatch(/^dk_live_[A-Za-z0-9_-]{40,}$/);
    const row = await t.db.knex('ingest_keys').where({ key_hash: hashKey(key) }).first();
    expect(row.org_id).toBe('acme');
    expect(JSON.stringify(row)).not.toContain(key);
    const list = await t.request.get('/v1/admin/ingest-keys').set(t.auth('acme'));
    expect(list.status).toBe(200);
    expect(list.body.data[0]).toMatchObject({ name: 'web', key_prefix: key.slice(0, 12), revoked_at: null });
    expect(JSON.stringify(list.body)).not.toContain(key);
  });

  it('a key needs a name people can read: not blank, no control characters', async () => {
    for (const name of ['', '   ', 'web\tkey', 'web\r\nkey']) {
      const res = await t.request.post('/v1/admin/ingest-keys').set(t.auth('acme')).send({ name });
      expect([name, res.status, res.body.error?.details?.[0]?.path]).toEqual([name, 400, 'body.name']);
    }
    expect((await t.request.post('/v1/admin/ingest-keys').set(t.auth('acme')).send({ name: 'Site web – ÉU' })).status).toBe(201);
  });

  it('needs the admin role; editors and viewers get 403', async () => {
    expect((await t.request.post('/v1/admin/ingest-keys').set(t.auth('acme', 'editor')).send({ name: 'x' })).status).toBe(403);
    expect((await t.request.get('/v1/admin/ingest-keys').set(t.auth('acme', 'viewer'))).status).toBe(403);
  });

  it('a revoked key stops working at once; another org cannot revoke it', async () => {
    const other = (await t.request.post('/v1/admin/ingest-keys').set(t.auth('acme')).send({ name: 'temp' })).body;
    expect((await post({ events: [page()] }, other.key)).status).toBe(202);
    expect((await t.request.delete(`/v1/admin/ingest-keys/${other.id}`).set(t.auth('globex'))).status).toBe(404);
    expect((await t.request.delete(`/v1/admin/ingest-keys/${other.id}`).set(t.auth('acme'))).status).toBe(204);
    const res = await post({ events: [page()] }, other.key);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_TOKEN');
  });

  it("takes the scheme in any case (HTTP's rule), not the key", async () => {
    const events = { events: [page()] };
    for (const scheme of ['bearer', 'BEARER', 'Bearer  ']) {
      expect((await t.request.post('/v1/events').set('Authorization', `${scheme} ${key}`).send(events)).status).toBe(202);
    }
    const upper = await t.request.post('/v1/events').set('Authorization', `Bearer ${key.toUpperCase()}`).send(events);
    expect(upper.status).toBe(401);
    expect(upper.body.error.code).toBe('INVALID_TOKEN');
  });

  it('a key is looked up once, not for every POST', async () => {
    const fresh = (await t.request.post('/v1/admin/ingest-keys').set(t.auth('acme')).send({ name: 'cached' })).body;
    const lookups = jest.spyOn(IngestKeyStore.prototype, 'orgOf');
    try {
      for (let i = 0; i < 3; i++) expect((await post({ events: [page()] }, fresh.key)).status).toBe(202);
      expect(lookups).toHaveBeenCalledTimes(1);
    } finally {
      lookups.mockRestore();
    }
  });

  it("keys used within a second get last_used_at in one statement, and a key's at most once a minute", async () => {
    const fresh = await Promise.all(['a', 'b', 'c'].map(async (n) => (await t.request.post('/v1/admin/ingest-keys').set(t.auth('acme')).send({ name: `used-${n}` })).body));
    await t.services.ingest.flushLastUsed(); // the keys earlier tests used
    const writes = jest.spyOn(IngestKeyStore.prototype, 'touchAll');
    try {
      for (const k of fresh) expect((await post({ events: [page()] }, k.key)).status).toBe(202);
      expect((await post({ events: [page()] }, fresh[0].key)).status).toBe(202); // again: nothing more to write
      const usedAt = async () => (await t.db.knex('ingest_keys').whereIn('id', fresh.map((k) => k.id)).select('last_used_at')).map((r) => r.last_used_at);
      expect(await usedAt()).toEqual([null, null, null]); // not one write per POST
      const deadline = Date.now() + 5000;
      while ((await usedAt()).includes(null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await usedAt()).every((at) => at instanceof Date)).toBe(true);
      expect(writes).toHaveBeenCalledTimes(1);
      expect(new Set(writes.mock.calls[0][0])).toEqual(new Set(fresh.map((k) => k.id)));
      expect((await post({ events: [page()] }, fresh[1].key)).status).toBe(202);
      await new Promise((r) => setTimeout(r, 1300));
      expect(writes).toHaveBeenCalledTimes(1); // used again within the minute: not written again
    } finally {
      writes.mockRestore();
    }
  });

  it('an unknown key is looked up once; later tries with it are answered from memory', async () => {
    const unknown = unknownKey();
    const lookups = jest.spyOn(IngestKeyStore.prototype, 'orgOf');
    try {
      for (let i = 0; i < 3; i++) {
        const res = await post({ events: [page()] }, unknown);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('INVALID_TOKEN');
      }
      expect(lookups).toHaveBeenCalledTimes(1);
    } finally {
      lookups.mockRestore();
    }
  });

  it('a client trying many unknown keys gets 429 without lookups; keys in use go on working', async () => {
    const other = await startTestApp({ INGEST_AUTH_FAILURES_PER_MINUTE: '3' }, t.db);
    // The test talks through loopback, a trusted proxy: X-Forwarded-For says which client posts.
    const postThere = (k: string, from: string) =>
      other.request.post('/v1/events').set('Authorization', `Bearer ${k}`).set('X-Forwarded-For', from).send({ events: [page()] });
    const guess = unknownKey;
    const lookups = jest.spyOn(IngestKeyStore.prototype, 'orgOf');
    try {
      expect((await postThere(key, '2001:db8:1:2::1')).status).toBe(202); // in use: cached
      // Three addresses of one IPv6 /64 are one client.
      const guessed = [guess(), guess(), guess()];
      for (const [i, k] of guessed.entries()) expect((await postThere(k, `2001:db8:1:2::${i + 10}`)).status).toBe(401);
      expect(lookups).toHaveBeenCalledTimes(4);
      const refused = await postThere(guess(), '2001:db8:1:2:ffff::1');
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('RATE_LIMITED');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(lookups).toHaveBeenCalledTimes(4); // refused without a lookup
      expect((await postThere(guessed[0], '2001:db8:1:2::1')).status).toBe(401); // a known unknown key: still 401
      expect((await postThere(key, '2001:db8:1:2::1')).status).toBe(202);
      // Another client is not held up by this one's guessing.
      expect((await postThere(guess(), '2001:db8:1:3::1')).status).toBe(401);
      expect((await postThere(guess(), '203.0.113.7')).status).toBe(401);
      expect(lookups).toHaveBeenCalledTimes(6);
    } finally {
      lookups.mockRestore();
      await other.close();
    }
  });

  it('a key revoked through another API process stops working here within INGEST_KEY_REVOCATION_CHECK_MS', async () => {
    const other = await startTestApp({ INGEST_KEY_REVOCATION_CHECK_MS: '200' }, t.db);
    try {
      const shared = (await t.request.post('/v1/admin/ingest-keys').set(t.auth('acme')).send({ name: 'shared' })).body;
      const postThere = (k: string) => other.request.post('/v1/events').set('Authorization', `Bearer ${k}`).send({ events: [page()] });
      expect((await postThere(shared.key)).status).toBe(202); // cached there now
      expect((await postThere(key)).status).toBe(202); // and a key that stays active
      expect((await t.request.delete(`/v1/admin/ingest-keys/${shared.id}`).set(t.auth('acme'))).status).toBe(204);
      const revokedAt = Date.now();
      let res = await postThere(shared.key);
      while (res.status === 202 && Date.now() - revokedAt < 5000) {
        await new Promise((r) => setTimeout(r, 50));
        res = await postThere(shared.key);
      }
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('INVALID_TOKEN');
      expect(Date.now() - revokedAt).toBeLessThan(1500);
      expect((await postThere(key)).status).toBe(202);
    } finally {
      await other.close();
    }
  });
});

describe('POST /v1/events', () => {
  describe('requests of one org accepted together share its jobs', () => {
    const tagged = (tag: string, i: number, padding = 0) => Buffer.from(JSON.stringify(track('Tapped', { tag, i, ...(padding ? { padding: 'x'.repeat(padding) } : {}) })));
    /** Each job's `i`s of the events tagged `tag`, in the integration's queue. */
    const jobsOf = async (id: string, tag: string) =>
      (await t.services.queue.peek(id)).map((j) => j.events.filter((e) => e.properties?.tag === tag).map((e) => e.properties!.i as number)).filter((is) => is.length > 0);
    // Submitted in one tick: the first request starts the one commit in flight
    // (INGEST_COMMITS_IN_FLIGHT), the others wait and share the next one.
    const submitTogether = (requests: { org: string; events: Buffer[] }[]) =>
      Promise.all(requests.map(({ org, events }) => t.services.ingest.ingest(org, { kind: 'bytes', events })));

    it("one job per integration for the waiting ones, each request's events in order; another org's apart", async () => {
      const initech = (await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('initech')).send(guideInstallBody())).body.id;
      const tag = randomUUID();
      await submitTogether([
        ...Array.from({ length: 10 }, (_, i) => ({ org: 'acme', events: [tagged(tag, i)] })),
        ...Array.from({ length: 5 }, (_, i) => ({ org: 'initech', events: [tagged(tag, 100 + 2 * i), tagged(tag, 101 + 2 * i)] })),
      ]);
      const acme = await jobsOf(integrationId, tag);
      expect(acme.map((is) => is.length).sort((a, b) => a - b)).toEqual([1, 9]);
      expect(acme.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      for (const is of acme) expect(is).toEqual([...is].sort((a, b) => a - b));
      expect(await jobsOf(initech, tag)).toEqual([Array.from({ length: 10 }, (_, i) => 100 + i)]);
    });

    it('a shared job holds at most 1000 events and 2 MB; a request is never cut', async () => {
      const tag = randomUUID();
      // 400 events a request: two fit in a job, a third does not.
      await submitTogether(Array.from({ length: 5 }, (_, r) => ({ org: 'acme', events: Array.from({ length: 400 }, (_, i) => tagged(tag, r * 400 + i)) })));
      expect((await jobsOf(integrationId, tag)).map((is) => is.length).sort((a, b) => a - b)).toEqual([400, 800, 800]);
      // ~0.9 MB a request: two fit in 2 MB, a third does not.
      const big = randomUUID();
      await submitTogether(Array.from({ length: 5 }, (_, r) => ({ org: 'acme', events: [tagged(big, r, 900_000)] })));
      expect((await jobsOf(integrationId, big)).map((is) => is.length).sort((a, b) => a - b)).toEqual([1, 2, 2]);
    });
  });

  it('answers 202 after the events are committed to the integration\'s queue', async () => {
    const before = await queuedEvents();
    const res = await post({ events: [page(), track('Signed Up', { plan: 'pro' })] });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 2, rejected: [] });
    expect(await queuedEvents()).toBe(before + 2);
  });

  it('reports bad events by index without sinking their neighbours', async () => {
    const before = await queuedEvents();
    const res = await post({
      events: [
        page(),
        { type: 'track', anonymousId: 'a' },
        { type: 'tv', anonymousId: 'a' },
        { type: 'page' },
        { ...page(), colour: 'red' },
        'not an object',
        { ...page(), timestamp: 'yesterday' },
        track('Fine', {}),
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(2);
    expect(res.body.rejected.map((r: { index: number }) => r.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(res.body.rejected[0].reason).toMatch(/event is required/);
    expect(res.body.rejected[2].reason).toMatch(/anonymousId is required/);
    expect(res.body.rejected[3].reason).toMatch(/colour is not a known field/);
    expect(await queuedEvents()).toBe(before + 2);
  });

  it('refuses an event dated before 1971-01-01 (Mixpanel never takes it), by its time as fixed at acceptance', async () => {
    const before = await queuedEvents();
    const res = await post({
      events: [
        { ...page(), timestamp: '1960-01-01T00:00:00Z' },
        { ...page(), timestamp: '1971-01-01T00:30:00+01:00' }, // 1970-12-31T23:30Z
        { ...page(), timestamp: '1971-01-01T00:00:00Z' },
        // The client's clock is 2 years behind: its 1970 time is 1972 once corrected.
        { ...page(), timestamp: '1970-06-01T00:00:00Z', sentAt: new Date(Date.now() - 2 * 365 * 86_400_000).toISOString() },
        // The client's clock is 2 years ahead: its 1972 time is 1970 once corrected.
        { ...page(), timestamp: '1972-06-01T00:00:00Z', sentAt: new Date(Date.now() + 2 * 365 * 86_400_000).toISOString() },
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body.rejected).toEqual([
      { index: 0, reason: 'timestamp 1960-01-01T00:00:00Z is before 1971-01-01 (Mixpanel refuses older events)' },
      { index: 1, reason: expect.stringMatching(/^timestamp 1971-01-01T00:30:00\+01:00 is before 1971-01-01/) },
      { index: 4, reason: expect.stringMatching(/^timestamp 1970-.* is before 1971-01-01/) },
    ]);
    expect(res.body.accepted).toBe(2);
    expect(await queuedEvents()).toBe(before + 2);
  });

  it('refuses an event dated more than an hour ahead (Mixpanel refuses it when sent), unless sentAt shows the client\'s clock is ahead', async () => {
    const before = await queuedEvents();
    const inHours = (h: number) => new Date(Date.now() + h * 3600_000).toISOString();
    const res = await post({
      events: [
        { ...page(), timestamp: inHours(2) },
        { ...page(), timestamp: inHours(0.9) },
        // The client's clock is 2 hours ahead: its time is now once corrected.
        { ...page(), timestamp: inHours(2), sentAt: inHours(2) },
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body.rejected).toEqual([{ index: 0, reason: expect.stringMatching(/^timestamp \S+ is more than 1 hour ahead of this server's clock \(Mixpanel refuses events dated over 1 h in the future/) }]);
    expect(res.body.accepted).toBe(2);
    expect(await queuedEvents()).toBe(before + 2);
  });

  it('fills a missing messageId and timestamp once, at acceptance', async () => {
    await post({ events: [{ type: 'track', event: 'No Ids', anonymousId: 'anon-1' }] });
    const jobs = await t.services.queue.peek(integrationId);
    const e = jobs.flatMap((j) => j.events).find((ev) => ev.event === 'No Ids')!;
    expect(e.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(e.timestamp)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('queues the events exactly as sent, whatever the body\'s layout or characters, or its charset', async () => {
    const sent = [page({ properties: { title: 'Ünïcødé — 東京 😀', q: 'a"b\\c' } }), track('Spaced Out', { n: 1.5e3 })];
    const pretty = JSON.stringify({ events: sent }, null, 2);
    const queued = async () => (await t.services.queue.peek(integrationId)).flatMap((j) => j.events);
    const sendRaw = (body: Buffer, type: string) =>
      t.request
        .post('/v1/events')
        .set('Authorization', `Bearer ${key}`)
        .set('Content-Type', type)
        .serialize((b: Buffer) => b as unknown as string) // the bytes as they are
        .send(body);
    for (const [body, type] of [
      [Buffer.from(JSON.stringify({ events: sent })), 'application/json'], // queued from the bytes as sent
      [Buffer.from(pretty), 'application/json'], // events spanning lines: their newlines queued as spaces
      [Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(pretty)]), 'application/json; charset=utf-8'],
      [Buffer.from(pretty, 'utf16le'), 'application/json; charset=utf-16le'],
    ] as const) {
      const before = (await queued()).length;
      const res = await sendRaw(body, type);
      expect({ type, status: res.status, body: res.body }).toEqual({ type, status: 202, body: { accepted: 2, rejected: [] } });
      expect((await queued()).slice(before)).toEqual(sent);
    }
  });

  it('bad JSON → 400 and nothing queued; charsets other than UTF → 415', async () => {
    const before = await queuedEvents();
    const raw = (body: string, type = 'application/json') =>
      t.request.post('/v1/events').set('Authorization', `Bearer ${key}`).set('Content-Type', type).send(body);
    for (const body of ['{"events":[{"type":"page","anonymousId":"a"} {"x":1}]}', '{"events":[{"type":"page",}]}', '{"events":[tru]}', '{"events":[{"a":"1}]}']) {
      const res = await raw(body);
      expect({ body, status: res.status, code: res.body.error?.code }).toEqual({ body, status: 400, code: 'VALIDATION_ERROR' });
    }
    const latin1 = await raw(JSON.stringify({ events: [page()] }), 'application/json; charset=iso-8859-1');
    expect([latin1.status, latin1.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const empty = await raw('');
    expect([empty.status, empty.body.error.code]).toEqual([400, 'VALIDATION_ERROR']);
    // Bodies that are JSON but no object (found by the fuzz test: `null` answered 500).
    for (const body of ['null', '42', '"events"', '[]']) {
      const res = await raw(body);
      expect([body, res.status, res.body.error.code]).toEqual([body, 400, 'VALIDATION_ERROR']);
    }
    expect(await queuedEvents()).toBe(before);
  });

  it('takes gzip- and deflate-compressed bodies (as server SDKs send them); an unknown encoding → 415, a bomb → 413', async () => {
    const before = await queuedEvents();
    const body = JSON.stringify({ events: [track('Zipped', { n: 1 }), track('Zipped', { n: 2 })] });
    const post = (encoding: string, bytes: Buffer) =>
      t.request
        .post('/v1/events')
        .set('Authorization', `Bearer ${key}`)
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', encoding)
        .serialize(((b: Buffer) => b) as never) // the bytes as they are (superagent would JSON-encode a Buffer)
        .send(bytes);
    for (const [encoding, bytes] of [['gzip', gzipSync(body)], ['deflate', deflateSync(body)]] as const) {
      const res = await post(encoding, bytes);
      expect([encoding, res.status, res.body]).toEqual([encoding, 202, { accepted: 2, rejected: [] }]);
    }
    expect(await queuedEvents()).toBe(before + 4);
    const unknown = await post('compress', Buffer.from(body));
    expect([unknown.status, unknown.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    // 50 KB on the wire, far more than the body limit once inflated: refused while inflating.
    const bomb = await post('gzip', gzipSync(`{"events":[${'{"type":"page","anonymousId":"a"},'.repeat(400_000)}null]}`));
    expect([bomb.status, bomb.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(await queuedEvents()).toBe(before + 4);
  });

  it('queues nothing for an integration whose deletion commits while the events are being accepted', async () => {
    const id = (await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('race')).send(guideInstallBody())).body.id;
    const raceKey = (await t.request.post('/v1/admin/ingest-keys').set(t.auth('race')).send({ name: 'race' })).body.key;
    const jobsOf = async () => (await t.db.knex.raw('SELECT count(*)::int AS n FROM pgboss.job WHERE group_id = ?', [id])).rows[0].n;
    // A deletion in progress, as DELETE runs it: queue lock held, integration marked, jobs dropped.
    const deleting = new pg.Client({ connectionString: t.db.url });
    await deleting.connect();
    try {
      await deleting.query('BEGIN');
      await deleting.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`delivery-${id}`]);
      await deleting.query('UPDATE integrations SET deleted_at = now(), enabled = false WHERE id = $1', [id]);
      await deleting.query('DELETE FROM pgboss.job WHERE group_id = $1', [id]);
      // The ingest still sees the integration (the deletion is not committed) and must wait for it.
      const accepting = post({ events: [page()] }, raceKey).then((r) => r);
      await new Promise((r) => setTimeout(r, 300));
      await deleting.query('COMMIT');
      expect((await accepting).status).toBe(202);
    } finally {
      await deleting.end();
    }
    expect(await jobsOf()).toBe(0);
  });

  it('still reads jobs queued in the earlier one-JSON-object format', async () => {
    const legacyId = (await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('legacy')).send(guideInstallBody())).body.id;
    const events = [page(), track('Old Format', { n: 1 })];
    const payload = gzipSync(JSON.stringify({ events })).toString('base64');
    const data = { orgId: 'legacy', integrationId: legacyId, attempt: 0, acceptedAt: 1, count: 2, payload };
    await t.services.queue.boss.insert(QUEUE, [{ data, group: { id: legacyId } }]);
    const job = (await t.services.queue.fetch(1000, 1000)).find((j) => j.data.integrationId === legacyId)!;
    expect(withParsedEvents(job.data)).toEqual({ orgId: 'legacy', integrationId: legacyId, attempt: 0, acceptedAt: 1, events });
  });

  it('/metrics counts the answers of POST /v1/events by status, and the events accepted, rejected and queued for no integration', async () => {
    const read = async () => {
      const text = (await t.request.get('/metrics')).text;
      return {
        answered202: counter(text, 'ingest_requests_total', '{status="202"}'),
        answered401: counter(text, 'ingest_requests_total', '{status="401"}'),
        answered400: counter(text, 'ingest_requests_total', '{status="400"}'),
        accepted: counter(text, 'ingest_events_total', '{outcome="accepted"}'),
        rejected: counter(text, 'ingest_events_total', '{outcome="rejected"}'),
        unrouted: counter(text, 'ingest_events_unrouted_total'),
      };
    };
    // An org with no integration installed: its events are accepted and go nowhere, which shows.
    const lonely = (await t.request.post('/v1/admin/ingest-keys').set(t.auth('no-integrations')).send({ name: 'web' })).body.key as string;
    const before = await read();
    expect((await post({ events: [page(), { type: 'page' }, track('Tapped')] })).status).toBe(202);
    expect((await post({ events: [page()] }, unknownKey())).status).toBe(401);
    expect((await post({ events: [] })).status).toBe(400);
    expect((await post({ events: [page(), page(), page()] }, lonely)).status).toBe(202);
    const after = await read();
    expect(after).toEqual({
      answered202: before.answered202 + 2,
      answered401: before.answered401 + 1,
      answered400: before.answered400 + 1,
      accepted: before.accepted + 5,
      rejected: before.rejected + 1,
      unrouted: before.unrouted + 3,
    });
  });

  it('unknown or missing key → 401; JWTs are not ingestion keys', async () => {
    expect((await post({ events: [page()] }, 'dk_live_nope')).status).toBe(401);
    expect((await t.request.post('/v1/events').send({ events: [page()] })).status).toBe(401);
    expect((await t.request.post('/v1/events').set(t.auth('acme')).send({ events: [page()] })).status).toBe(401);
  });

  it('rejects an empty batch, more than 1000 events, and a body over the size limit', async () => {
    expect((await post({ events: [] })).status).toBe(400);
    expect((await post({ events: Array.from({ length: 1001 }, () => page()) })).status).toBe(400);
    expect((await post({ batch: [page()] })).status).toBe(400);
    const huge = await post({ events: [track('Huge', { blob: 'x'.repeat(6 * 1024 * 1024) })] });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('queues nothing for another org\'s integrations', async () => {
    const globex = (await t.request.post('/v1/admin/integration-catalog/mixpanel/install').set(t.auth('globex')).send(guideInstallBody())).body.id;
    await post({ events: [page()] });
    const jobs = await t.db.knex.raw(`SELECT count(*)::int AS n FROM pgboss.job WHERE group_id = ?`, [globex]);
    expect(jobs.rows[0].n).toBe(0);
  });
});

/** Serves the app on a port of its own while `use` runs (for requests supertest cannot make). */
async function served<T>(app: TestApp, use: (port: number) => Promise<T>): Promise<T> {
  const server = http.createServer(app.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await use((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** POSTs `body` to the app's /v1/events in chunks (no Content-Length), over a real connection. */
function postChunked(app: TestApp, ingestKey: string, body: string): Promise<{ status: number }> {
  return served(app, (port) =>
    new Promise((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/v1/events', headers: { Authorization: `Bearer ${ingestKey}`, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      });
      req.on('error', reject);
      req.end(body);
    }),
  );
}

describe('bodies waiting for the database (INGEST_MAX_PENDING_BYTES)', () => {
  /** An API holding at most 300 KB of bodies; each test's org has a key and an integration on it. */
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ INGEST_MAX_PENDING_BYTES: String(300 * 1024) }, t.db);
  });
  afterAll(() => limited.close());
  const orgWithKey = async (org: string) => ({
    key: (await limited.request.post('/v1/admin/ingest-keys').set(limited.auth(org)).send({ name: 'web' })).body.key as string,
    integrationId: (await limited.request.post('/v1/admin/integration-catalog/mixpanel/install').set(limited.auth(org)).send(guideInstallBody())).body.id as string,
  });
  const pending = async () => Number(/^ingest_pending_bytes (\d+)$/m.exec(await limited.services.ingestMetrics.registry.metrics())?.[1]);
  /** `count` events of ~2 KB: 100 make ~200 KB, so that a second such body would pass 300 KB. */
  const events = (name: string, count = 100) => ({ events: Array.from({ length: count }, () => track(name, { pad: 'x'.repeat(2000) })) });
  const send = (k: string, body: object) => limited.request.post('/v1/events').set('Authorization', `Bearer ${k}`).send(body);

  /**
   * Runs `use` with the queue's table locked, so commits that queue jobs wait (a VACUUM FULL, a
   * migration, a stall); `unlock` ends the lock. It ends anyway, after 20 s at the latest: a request
   * waiting on it would otherwise keep the app from closing.
   */
  async function whileQueueLocked(use: (unlock: () => Promise<void>) => Promise<void>): Promise<void> {
    const locker = new pg.Client({ connectionString: t.db.url });
    await locker.connect();
    let locked = false;
    const unlock = async () => {
      if (!locked) return;
      locked = false;
      clearTimeout(deadline);
      await locker.query('COMMIT');
    };
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE pgboss.job_common IN ACCESS EXCLUSIVE MODE');
    locked = true;
    const deadline = setTimeout(() => void unlock().catch(() => {}), 20_000);
    try {
      await use(unlock);
    } finally {
      await unlock().catch(() => {});
      await locker.end();
    }
  }

  it('answers 503 with Retry-After, without reading the body, while the bodies held would pass the limit, also when their clients have given up; the held ones are queued once the database answers', async () => {
    const busy = await orgWithKey('busy-org');
    const big = events('Big');
    await whileQueueLocked(async (unlock) => {
      // A client that gives up while its events wait for the lock: they stay in memory, and so does their share.
      const gaveUp = await send(busy.key, big)
        .timeout(300)
        .then(
          () => 'answered',
          (err: Error & { timeout?: number }) => (err.timeout ? 'gave up' : err.message),
        );
      expect(gaveUp).toBe('gave up');
      await new Promise((r) => setTimeout(r, 50)); // the server has seen its connection close
      expect(await pending()).toBeGreaterThan(200_000);
      const refused = await send(busy.key, big);
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('2');
      expect(refused.body.error).toEqual({ code: 'SERVICE_UNAVAILABLE', message: 'This server holds as many events waiting to be queued as it may (0.3 MB); retry shortly' });
      // A body sent in chunks (no Content-Length) may be as large as the body limit: refused too.
      const chunked = await postChunked(limited, busy.key, JSON.stringify({ events: [track('Small')] }));
      expect(chunked.status).toBe(503);
      // An unknown key is still told so first.
      expect((await send(unknownKey(), big)).status).toBe(401);
      await unlock();
    });
    const noneHeld = async (what: string) => {
      for (let i = 0; (await pending()) > 0; i++) {
        if (i > 200) throw new Error(`${what} never let go of their share`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await noneHeld('the events of the client that gave up');
    const queued = async () => (await limited.services.queue.peek(busy.integrationId)).reduce((n, j) => n + j.events.length, 0);
    expect(await queued()).toBe(100); // those of the client that gave up; the refused ones queued nothing
    expect((await send(busy.key, big)).status).toBe(202);
    expect(await queued()).toBe(200);
    await noneHeld('a request answered'); // once its connection's answer is done
  });

  it('a compressed body counts for its inflated size once read, not its Content-Length', async () => {
    const zip = await orgWithKey('zip-org');
    const inflated = Buffer.from(JSON.stringify(events('Zipped')));
    const zipped = gzipSync(inflated);
    expect(zipped.length).toBeLessThan(inflated.length / 10);
    await whileQueueLocked(async (unlock) => {
      const first = limited.request
        .post('/v1/events')
        .set('Authorization', `Bearer ${zip.key}`)
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'gzip')
        .serialize(((b: Buffer) => b) as never) // the bytes as they are (superagent would JSON-encode a Buffer)
        .send(zipped)
        .then((r) => r);
      for (let i = 0; (await pending()) < inflated.length; i++) {
        if (i > 200) throw new Error(`the compressed body counts for ${await pending()} bytes, not its ${inflated.length} inflated`);
        await new Promise((r) => setTimeout(r, 10));
      }
      // Another ~150 KB would pass 300 KB.
      expect((await send(zip.key, events('Plain', 70))).status).toBe(503);
      await unlock();
      expect((await first).status).toBe(202);
    });
  });

  it('a client sending a large Content-Length slowly holds only what it has sent, after SLOW_BODY_MS', async () => {
    const slowOrg = await orgWithKey('slow-org');
    const big = events('Big');
    await served(limited, async (port) => {
      // Says 250 KB, sends 10 bytes, and waits.
      const slow = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => slow.once('connect', resolve));
      slow.write(`POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${slowOrg.key}\r\nContent-Type: application/json\r\nContent-Length: 256000\r\n\r\n{"events":`);
      try {
        await new Promise((r) => setTimeout(r, 200));
        // Meanwhile its declared size counts: another 200 KB would pass 300 KB.
        expect((await send(slowOrg.key, big)).status).toBe(503);
        await new Promise((r) => setTimeout(r, SLOW_BODY_MS + 100));
        // Now it counts for its 10 bytes: the same POST goes through.
        expect((await send(slowOrg.key, big)).status).toBe(202);
      } finally {
        slow.destroy();
      }
    });
  });
});
