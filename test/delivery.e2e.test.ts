import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { REPLAY_CHUNK } from '../src/delivery/delivery-admin-service.js';
import { IntegrationStore } from '../src/integrations/integration-store.js';
import { identify, order, page, track } from './fixtures/events.js';
import { capturingLogger, EU, IN, startHarness, US, type Harness, type LogLine } from './support/delivery-harness.js';
import { ForwardProxy } from './support/forward-proxy.js';
import { MixpanelClient } from '../src/destinations/mixpanel/client.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(() => h.close());

const stats = async (id: string) => (await h.t.request.get(`/v1/admin/integrations/${id}/stats`).set(h.t.auth('acme', 'viewer'))).body;
const deadLetters = async (id: string) =>
  (await h.t.request.get(`/v1/admin/integrations/${id}/dead-letters`).set(h.t.auth('acme', 'viewer'))).body.data as {
    id: string;
    reason: string;
    attempts: number;
    event: { messageId: string };
  }[];
const logs = async (id: string, status?: string) =>
  (await h.t.request.get(`/v1/admin/integrations/${id}/deliveries${status ? `?status=${status}` : ''}`).set(h.t.auth('acme', 'viewer'))).body
    .data as { endpoint: string; host: string; status: string; http_status: number | null; event_count: number; response_body: string }[];

describe('delivery to the stand-in Mixpanel', () => {
  it('delivers events to /import and profiles to /engage, gzipped, with Basic auth, and logs each request', async () => {
    const id = await h.install('Mixpanel');
    const events = [page(), identify('user-123', { email: 'jane@example.com', plan: 'pro' }), track('Order Completed', order, { userId: 'user-123' })];
    const res = await h.post(events);
    expect(res).toEqual({ status: 202, body: { accepted: 3, rejected: [] } });
    await h.until(() => h.us.eventsOf(US.token).length === 3 && h.us.state.engage.length === 3, 'delivery');
    expect(h.us.eventsOf(US.token).map((e) => e.event).sort()).toEqual(['$identify', 'Order Completed', 'Page Viewed']);
    expect(h.us.state.engage.map((u) => Object.keys(u).pop())).toEqual(['$set', '$set_once', '$append']);
    expect(h.us.state.requests.every((r) => r.gzip)).toBe(true);
    expect(h.eu.state.requests).toHaveLength(0);
    await h.until(async () => (await stats(id)).delivered === 3, 'stats');
    const s = await stats(id);
    // 3 canonical events → 3 Mixpanel events (Page Viewed, $identify, Order Completed) and 3 profile updates ($set, first-touch $set_once, $append)
    expect(s).toMatchObject({
      queued: 0,
      delivered: 3,
      mixpanel_events_delivered: 3,
      profile_updates_delivered: 3,
      group_updates_delivered: 0,
      failed: 0,
      dead_lettered: 0,
      success_rate_last_hour: 1,
      last_error: null,
    });
    expect(s.last_success_at).not.toBeNull();
    const rows = await logs(id);
    expect(rows.map((r) => [r.endpoint, r.status, r.http_status]).sort()).toEqual([
      ['/engage', 'delivered', 200],
      ['/import', 'delivered', 200],
    ]);
    expect(rows[0].host).toBe(new URL(h.us.url).host);
    expect(JSON.stringify(rows)).not.toContain(US.apiSecret);
  });

  it('goes through the egress proxy of HTTP_PROXY, and around it for the hosts of NO_PROXY', async () => {
    const proxy = new ForwardProxy();
    await proxy.start();
    try {
      await h.close();
      h = await startHarness({ HTTP_PROXY: proxy.url });
      const id = await h.install('Mixpanel');
      await h.post([page(), track('Order Completed', order)]);
      await h.until(() => h.us.eventsOf(US.token).length === 2, 'delivery through the proxy');
      expect(proxy.seen.length).toBeGreaterThan(0);
      expect(proxy.seen.every((r) => r.startsWith(`POST ${h.us.url}/`))).toBe(true);
      expect((await stats(id)).delivered).toBeGreaterThan(0);

      await h.close();
      const before = proxy.seen.length;
      h = await startHarness({ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });
      await h.install('Mixpanel');
      await h.post([page()]);
      await h.until(() => h.us.eventsOf(US.token).length === 1, 'delivery around the proxy');
      expect(proxy.seen.length).toBe(before);
    } finally {
      await proxy.stop();
    }
  });

  it('tunnels HTTPS to Mixpanel through the HTTPS_PROXY with CONNECT (the proxy resolves the host)', async () => {
    const proxy = new ForwardProxy();
    await proxy.start();
    const client = new MixpanelClient({ timeoutMs: 2000, gzipLevel: 1, proxy: { HTTPS_PROXY: proxy.url } });
    try {
      // This sandbox cannot reach Mixpanel: the proxy's own connection fails (502), and the client says so.
      const res = await client.post('https://api-eu.mixpanel.com/import?strict=1', Buffer.from('[]'), 'secret:');
      expect(res.status).toBe(0);
      expect(res.error).toMatch(/ERR_PROXY_TUNNEL/);
      expect(proxy.seen).toEqual(['CONNECT api-eu.mixpanel.com:443']);
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it('gives up on a proxy that takes the connection and never answers CONNECT, within the request timeout', async () => {
    const held = new Set<Socket>();
    const blackHole = createNetServer((s) => void held.add(s));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const client = new MixpanelClient({ timeoutMs: 300, gzipLevel: 1, proxy: { HTTPS_PROXY: `http://127.0.0.1:${(blackHole.address() as AddressInfo).port}` } });
    try {
      const started = Date.now();
      const res = await client.post('https://api.mixpanel.com/import?strict=1', Buffer.from('[]'), 'secret:');
      expect(Date.now() - started).toBeLessThan(5000); // before: never
      expect(res).toMatchObject({ status: 0, error: expect.stringMatching(/^ETIMEDOUT: no answer within 300 ms/) });
    } finally {
      client.close();
      for (const s of held) s.destroy();
      await new Promise((resolve) => blackHole.close(resolve));
    }
  });

  it('sends EU-resident integrations to the EU host only', async () => {
    await h.install('EU', { project_token: EU.token, api_secret: EU.apiSecret, eu_data_residency: true });
    await h.post([page()]);
    await h.until(() => h.eu.eventsOf(EU.token).length === 1, 'EU delivery');
    expect(h.us.state.requests).toHaveLength(0);
  });

  it("opens the secrets of a fetch's integrations in one query, not one each", async () => {
    const ids: string[] = [];
    for (const name of ['One', 'Two', 'Three']) ids.push(await h.install(name));
    const reads = jest.spyOn(IntegrationStore.prototype, 'loadSecrets');
    try {
      await h.post([page()]); // one commit queues a job for each: one fetch takes the three
      // Same project and $insert_id for the three: the stand-in keeps one copy, so count the requests.
      await h.until(() => h.us.state.requests.filter((r) => r.status === 200).length === 3, 'a request from each integration');
      // Reads for these three only (a retry an earlier test left may be delivered meanwhile).
      const ours = reads.mock.calls.filter(([wanted]) => wanted.some((w) => ids.includes(w.integrationId)));
      expect(ours).toHaveLength(1);
      expect(ours[0][0].map((w) => w.integrationId).sort()).toEqual([...ids].sort());
    } finally {
      reads.mockRestore();
    }
  });

  it('reads a blueprint once per revision, not with every batch; a replaced blueprint maps the next batch', async () => {
    const id = await h.install('Mixpanel');
    const lookups = jest.spyOn(IntegrationStore.prototype, 'findMany');
    const lastLookup = async () => (await (lookups.mock.results.at(-1)!.value as ReturnType<IntegrationStore['findMany']>)).get(id)!;
    const names = () => h.us.eventsOf(US.token).map((e) => e.event);
    try {
      await h.post([page()]);
      await h.until(() => names().length === 1, 'the first event');
      expect((await lastLookup()).blueprint).toBeDefined(); // the worker held none yet
      await h.post([page()]);
      await h.until(() => names().length === 2, 'the second event');
      expect((await lastLookup()).blueprint).toBeUndefined(); // held: the document is left out

      const current = await h.t.request.get(`/v1/admin/integrations/${id}/blueprint`).set(h.t.auth('acme'));
      const replaced = { ...current.body, events: { ...current.body.events, page: { ...current.body.events.page, vendor_event_name: 'Page Seen' } } };
      expect((await h.t.request.put(`/v1/admin/integrations/${id}/blueprint`).set(h.t.auth('acme')).send(replaced)).status).toBe(200);
      await h.post([page()]);
      await h.until(() => names().length === 3, 'the third event');
      expect(names()).toEqual(['Page Viewed', 'Page Viewed', 'Page Seen']);
      expect((await lastLookup()).blueprint).toBeDefined(); // a new revision: read once more
    } finally {
      lookups.mockRestore();
    }
  });

  it('a lookup that left out a blueprint the worker no longer holds: the revision is read alone', async () => {
    const id = await h.install('Mixpanel');
    const findMany = IntegrationStore.prototype.findMany;
    // As when another batch moved the held blueprint on, or housekeeping forgot it, after the lookup.
    const lookups = jest.spyOn(IntegrationStore.prototype, 'findMany').mockImplementationOnce(function (this: IntegrationStore, ids) {
      return findMany.call(this, ids, new Map([[id, 1]]));
    });
    const reads = jest.spyOn(IntegrationStore.prototype, 'findRevision');
    try {
      await h.post([page()]);
      await h.until(() => h.us.eventsOf(US.token).length === 1, 'the event');
      expect(h.us.eventsOf(US.token)[0].event).toBe('Page Viewed');
      expect(reads.mock.calls.map((c) => c.slice(1, 3))).toEqual([[id, 1]]);
    } finally {
      lookups.mockRestore();
      reads.mockRestore();
    }
  });

  it('queues each event for every enabled integration of the org, and none of another org', async () => {
    await h.install('One');
    await h.install('Two', { project_token: EU.token, api_secret: EU.apiSecret, eu_data_residency: true });
    await h.t.request
      .post('/v1/admin/integration-catalog/mixpanel/install')
      .set(h.t.auth('globex'))
      .send({ name: 'Other org', config: { project_token: 'x', api_secret: 'y' } });
    await h.post([page(), page()]);
    await h.until(() => h.us.eventsOf(US.token).length === 2 && h.eu.eventsOf(EU.token).length === 2, 'fan out');
    expect(h.us.state.requests.filter((r) => r.status === 401)).toHaveLength(0);
  });

  it('400 with failed_records: accepted events are done, each refused one is dead-lettered with Mixpanel\'s message, nothing resent', async () => {
    const id = await h.install('Mixpanel');
    // 50 minutes ahead: ingest takes it, but Mixpanel's clock is 20 minutes behind ours.
    h.us.faults = { clockBehindMs: 20 * 60_000 };
    const bad = track('Too Late', {}, { timestamp: new Date(Date.now() + 50 * 60_000).toISOString() });
    await h.post([page(), bad, page()]);
    await h.until(async () => (await deadLetters(id)).length === 1, 'dead letter');
    const [dl] = await deadLetters(id);
    expect(dl.event.messageId).toBe(bad.messageId);
    expect(dl.reason).toContain('too far in the future');
    expect(dl.attempts).toBe(1);
    expect(h.us.eventsOf(US.token)).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.us.state.requests.filter((r) => r.path === '/import')).toHaveLength(1);
    expect((await logs(id))[0]).toMatchObject({ status: 'partial', http_status: 400 });
    expect((await stats(id)).dead_lettered).toBe(1);
  });

  it('the stand-in refuses an event dated before 1971 with failed_records, as /import does', async () => {
    const sent = await fetch(`${h.us.url}/import?strict=1`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${US.apiSecret}:`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify([
        { event: 'Ancient', properties: { time: Date.UTC(1960, 0, 1), distinct_id: 'u1', $insert_id: 'a1' } },
        { event: 'In seconds', properties: { time: Math.floor(Date.now() / 1000), distinct_id: 'u1', $insert_id: 'a2' } },
      ]),
    });
    expect(sent.status).toBe(400);
    expect(await sent.json()).toMatchObject({ num_records_imported: 1, failed_records: [{ index: 0, message: expect.stringMatching(/after 1971-01-01/) }] });
  });

  it('events the blueprint rejects go to dead letters with the reason, never silently', async () => {
    const id = await h.install('Mixpanel');
    const res = await h.post([track('X', {}, { anonymousId: 'undefined' })]);
    expect(res.body.accepted).toBe(1);
    await h.until(async () => (await deadLetters(id)).length === 1, 'dead letter');
    expect((await deadLetters(id))[0].reason).toMatch(/rejected by the blueprint: anonymousId "undefined"/);
  });

  it('401: the integration is marked auth_failed, events are held, and resume after the secret is updated', async () => {
    const id = await h.install('Mixpanel', { project_token: US.token, api_secret: 'wrong-secret' });
    await h.post([page(), page()]);
    await h.until(async () => (await h.t.request.get(`/v1/admin/integrations/${id}`).set(h.t.auth('acme'))).body.status === 'auth_failed', 'auth_failed');
    const integ = (await h.t.request.get(`/v1/admin/integrations/${id}`).set(h.t.auth('acme'))).body;
    expect(integ.status_reason).toMatch(/401.*Invalid credentials.*API secret/);
    await h.post([page()]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await deadLetters(id)).toHaveLength(0);
    expect((await stats(id)).queued).toBe(3);
    const unauthorised = h.us.state.requests.filter((r) => r.status === 401).length;
    expect(unauthorised).toBe(1);

    const patched = await h.t.request.patch(`/v1/admin/integrations/${id}`).set(h.t.auth('acme')).send({ config: { api_secret: US.apiSecret } });
    expect(patched.status).toBe(200);
    expect(patched.body.status).toBe('active');
    await h.until(() => h.us.eventsOf(US.token).length === 3, 'resumed delivery');
    expect(await deadLetters(id)).toHaveLength(0);
    // the log says both: when delivery was held and why, and when it went on
    const said = h.logs.filter((l) => l.integration_id === id).map((l) => l.msg);
    expect(said).toContain('delivery held: Mixpanel answered 401 (Invalid credentials): check the API secret');
    expect(said.filter((m) => m.startsWith('delivery resumed'))).toHaveLength(1);
    expect(said.indexOf('delivery held: Mixpanel answered 401 (Invalid credentials): check the API secret')).toBeLessThan(said.findIndex((m) => m.startsWith('delivery resumed')));
  });

  it("held events about to reach the queue's 30-day retention are dead-lettered with the reason and logged, not dropped; replayed once the integration can deliver", async () => {
    const id = await h.install('Mixpanel', { project_token: US.token, api_secret: 'wrong-secret' });
    const other = await h.install('Other');
    await h.post([page(), page()]);
    await h.until(async () => (await stats(id)).queued === 2 && (await h.t.request.get(`/v1/admin/integrations/${id}`).set(h.t.auth('acme'))).body.status === 'auth_failed', 'held');
    // A month later, as far as pg-boss is concerned: the held jobs are a few hours from being deleted
    // (and not due, so that the new worker below does not fetch and hold them again first, which would
    // renew them: a worker that has been running all month skips them instead).
    await h.t.db.knex.raw(`UPDATE pgboss.job SET keep_until = now() + interval '3 hours', start_after = now() + interval '2 hours' WHERE group_id = ?`, [id]);
    // A worker looks at them a second after it starts, then hourly.
    const lines: LogLine[] = [];
    const late = h.t.services.createWorker(capturingLogger(lines));
    late.start();
    // Said by whichever worker looked first (the harness's own looks once, a second after it starts),
    // after its transaction: the dead letters can be seen a moment before the line is written.
    const gaveUp = () => [...lines, ...h.logs].filter((l) => l.integration_id === id && l.msg.startsWith('delivery gave up waiting'));
    await h.until(async () => (await deadLetters(id)).length === 2 && gaveUp().length > 0, 'dead letters, and the log line', 5000).finally(() => late.stop());
    const dead = await deadLetters(id);
    expect(dead).toHaveLength(2);
    expect(dead[0].reason).toMatch(/^waited 30 days undelivered \(the integration disabled, or its credentials refused, all that time\): dead-lettered before the queue would drop it; replay it once the integration can deliver/);
    expect((await stats(id)).queued).toBe(0);
    expect(gaveUp().map((l) => [l.level, l.events, l.msg.startsWith('delivery gave up waiting: 2 event(s) held since')])).toEqual([[40, 2, true]]);
    // Another integration's jobs, not near their retention, are left alone (and delivered).
    await h.until(() => h.us.eventsOf(US.token).length === 2, "the other integration's events");
    // Fixed, the dead letters are replayed and delivered.
    expect((await h.t.request.patch(`/v1/admin/integrations/${id}`).set(h.t.auth('acme')).send({ config: { api_secret: US.apiSecret } })).status).toBe(200);
    const replayed = await h.t.request.post(`/v1/admin/integrations/${id}/dead-letters/replay`).set(h.t.auth('acme')).send({});
    expect(replayed.body).toEqual({ replayed: 2 });
    await h.until(() => h.us.state.requests.filter((r) => r.path === '/import' && r.status === 200).reduce((n, r) => n + r.count, 0) === 4, 'the replayed events');
    expect(await deadLetters(other)).toHaveLength(0);
  });

  it('India residency: events and profiles go to api-in, imports authenticated by a service account with its project id', async () => {
    const sa = IN.serviceAccount;
    const id = await h.install('India', {
      project_token: IN.token,
      api_secret: 'retired-secret', // Mixpanel would refuse it: the service account must be what imports
      in_data_residency: true,
      service_account_username: sa.username,
      service_account_secret: sa.secret,
      project_id: sa.projectId,
    });
    const integ = (await h.t.request.get(`/v1/admin/integrations/${id}`).set(h.t.auth('acme'))).body;
    expect(integ).toMatchObject({ region: 'in', config: { in_data_residency: true, service_account_username: sa.username, service_account_secret: '***', project_id: sa.projectId, api_secret: '***' } });
    await h.post([page(), identify('user-in', { plan: 'pro' })]);
    await h.until(() => h.india.eventsOf(IN.token).length === 2 && h.india.state.requests.some((r) => r.path === '/engage'), 'delivery to India');
    expect(h.india.eventsOf(IN.token).map((e) => e.event).sort()).toEqual(['$identify', 'Page Viewed']);
    const imports = h.india.state.requests.filter((r) => r.path === '/import');
    expect(imports).toEqual([expect.objectContaining({ status: 200, user: sa.username, query: `?strict=1&project_id=${sa.projectId}` })]);
    expect(h.india.state.requests.find((r) => r.path === '/engage')).toMatchObject({ status: 200, query: '?verbose=1&ip=0' });
    expect(h.us.state.requests.concat(h.eu.state.requests)).toHaveLength(0);
    const preview = await h.t.request.post(`/v1/admin/integrations/${id}/preview`).set(h.t.auth('acme')).send({ events: [page()] });
    expect(preview.body.requests[0]).toMatchObject({ region: 'in', url: `${h.india.url}/import?strict=1&project_id=${sa.projectId}`, headers: { Authorization: 'Basic ***' } });
  });

  it('a refused service account: auth_failed naming it, events held; its secret PATCHed, delivery resumes; removed, the API secret imports again', async () => {
    const sa = IN.serviceAccount;
    const account = { service_account_username: sa.username, service_account_secret: 'wrong', project_id: sa.projectId };
    const id = await h.install('India SA', { project_token: IN.token, api_secret: IN.apiSecret, in_data_residency: true, ...account });
    const get = async () => (await h.t.request.get(`/v1/admin/integrations/${id}`).set(h.t.auth('acme'))).body;
    const patch = (config: object) => h.t.request.patch(`/v1/admin/integrations/${id}`).set(h.t.auth('acme')).send({ config });
    await h.post([page()]);
    await h.until(async () => (await get()).status === 'auth_failed', 'auth_failed');
    expect((await get()).status_reason).toMatch(/401.*Invalid credentials.*service account's username, secret and project ID/);
    expect(h.india.eventsOf(IN.token)).toHaveLength(0);

    expect((await patch({ service_account_secret: sa.secret })).body).toMatchObject({ status: 'active', config: { service_account_secret: '***' } });
    await h.until(() => h.india.eventsOf(IN.token).length === 1, 'resumed with the service account');

    const removed = await patch({ service_account_username: null, service_account_secret: null, project_id: null });
    expect(removed.status).toBe(200);
    expect(removed.body.config).toEqual({ project_token: IN.token, api_secret: '***', eu_data_residency: false, in_data_residency: true });
    expect(await h.t.db.knex('integration_secrets').where({ integration_id: id }).pluck('field')).toEqual(['api_secret']);
    await h.post([page()]);
    await h.until(() => h.india.eventsOf(IN.token).length === 2, 'delivered with the API secret');
    const last = h.india.state.requests.filter((r) => r.path === '/import').at(-1)!;
    expect(last).toMatchObject({ status: 200, query: '?strict=1' });
    expect(last.user).toBeUndefined();
  });

  it('auth_failed is lifted by a fix outside the secrets too: a service account\'s wrong project id PATCHed', async () => {
    const sa = IN.serviceAccount;
    const id = await h.install('Wrong project', { project_token: IN.token, api_secret: IN.apiSecret, in_data_residency: true, service_account_username: sa.username, service_account_secret: sa.secret, project_id: '999' });
    const get = async () => (await h.t.request.get(`/v1/admin/integrations/${id}`).set(h.t.auth('acme'))).body;
    await h.post([page()]);
    await h.until(async () => (await get()).status === 'auth_failed', 'auth_failed');
    const fixed = await h.t.request.patch(`/v1/admin/integrations/${id}`).set(h.t.auth('acme')).send({ config: { project_id: sa.projectId } });
    expect(fixed.body).toMatchObject({ status: 'active', status_reason: null, revision: 2 });
    await h.until(() => h.india.eventsOf(IN.token).length === 1, 'delivered after the fix');
  });

  it('the config sent back as GET shows it (the secret as "***"), one field changed: the stored secret stays and delivery goes on', async () => {
    const id = await h.install('Mixpanel');
    const get = async () => (await h.t.request.get(`/v1/admin/integrations/${id}`).set(h.t.auth('acme'))).body;
    const patch = (body: object) => h.t.request.patch(`/v1/admin/integrations/${id}`).set(h.t.auth('acme')).send(body);
    const shown = (await get()).config;
    expect(shown.api_secret).toBe('***');
    // The mask alone changes nothing: no revision.
    expect((await patch({ config: shown })).body).toMatchObject({ revision: 1, status: 'active' });
    // A form sending every field back, one edited, and back again: two revisions, the secret untouched.
    expect((await patch({ config: { ...shown, eu_data_residency: true } })).body).toMatchObject({ revision: 2, region: 'eu' });
    expect((await patch({ config: { ...(await get()).config, eu_data_residency: false } })).body).toMatchObject({ revision: 3, region: 'us', status: 'active' });
    await h.post([page()]);
    await h.until(() => h.us.eventsOf(US.token).length === 1, 'delivery with the stored secret');
    expect(h.us.state.requests.map((r) => r.status)).toEqual([200]);
    const revisions = (await h.t.request.get(`/v1/admin/integrations/${id}/revisions`).set(h.t.auth('acme'))).body.data as { change_summary: string }[];
    expect(revisions.map((r) => r.change_summary).sort()).toEqual(['Changed eu_data_residency', 'Changed eu_data_residency', 'Installed Mixpanel (default variant)']);
  });

  it('an integration whose config predates in_data_residency: GET shows it false, and the config sent back as shown makes no revision', async () => {
    const id = await h.install('Older');
    // As a revision stored before the field existed.
    await h.t.db.knex.raw(`UPDATE integration_revisions SET config = config - 'in_data_residency' WHERE integration_id = ?`, [id]);
    const shown = (await h.t.request.get(`/v1/admin/integrations/${id}`).set(h.t.auth('acme'))).body;
    expect(shown).toMatchObject({ region: 'us', config: { in_data_residency: false } });
    const sentBack = await h.t.request.patch(`/v1/admin/integrations/${id}`).set(h.t.auth('acme')).send({ config: shown.config });
    expect(sentBack.body).toMatchObject({ revision: 1 });
  });

  it('413: the batch is split into halves and resent', async () => {
    await h.install('Mixpanel');
    h.us.maxBytes = 6000;
    const events = Array.from({ length: 12 }, (_, i) => track('Big', { blob: 'x'.repeat(800), i }));
    await h.post(events);
    await h.until(() => h.us.eventsOf(US.token).length === 12, 'split delivery');
    const statuses = h.us.state.requests.map((r) => r.status);
    expect(statuses[0]).toBe(413);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(h.us.state.duplicates).toBe(0);
  });

  it('429 with Retry-After and 5xx are retried; the events arrive once', async () => {
    const id = await h.install('Mixpanel');
    h.us.faults = { nextStatuses: [429, 503, 0], retryAfter: 0.2 };
    await h.post([page(), page(), page()]);
    await h.until(() => h.us.eventsOf(US.token).length === 3, 'retried delivery');
    expect(h.us.state.requests.map((r) => r.status)).toEqual([429, 503, 0, 200]);
    const rows = await logs(id, 'retry');
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => r.http_status).sort()).toEqual([429, 503, null].sort());
  });

  it('a 200 that is not Mixpanel\'s answer (a proxy\'s page) is not taken as delivered: the events are sent again and arrive once', async () => {
    const id = await h.install('Mixpanel');
    h.us.faults = { notMixpanelNext: 1 };
    await h.post([page(), page()]);
    await h.until(() => h.us.eventsOf(US.token).length === 2, 'delivery after the page');
    expect(h.us.state.requests.map((r) => r.status)).toEqual([200, 200]);
    const retried = await logs(id, 'retry');
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatchObject({ http_status: 200, event_count: 2 });
    await h.until(async () => (await stats(id)).delivered === 2, 'stats');
    expect((await stats(id)).last_error).toMatch(/without Mixpanel's JSON answer \(it began "<html><body><h1>Welcome to nginx!/);
    expect(h.us.state.duplicates).toBe(0);
  });

  it('a lost answer after Mixpanel stored the events: the retry carries the same $insert_id and time, Mixpanel keeps one copy', async () => {
    await h.install('Mixpanel', undefined, 'retail');
    h.us.faults = { afterIngestStatuses: [502] };
    await h.post([track('Order Completed', order, { userId: 'u-1' })]);
    await h.until(() => h.us.state.requests.filter((r) => r.path === '/import').length === 2, 'retry');
    await h.until(() => h.us.state.duplicates === 3, 'dedup');
    expect(h.us.eventsOf(US.token).map((e) => e.event)).toEqual(['Order Completed', 'Product Purchased', 'Product Purchased']);
    expect(h.us.state.engage).toHaveLength(2);
  });

  it('after the last attempt events go to dead letters; replay queues them again', async () => {
    const id = await h.install('Mixpanel');
    h.us.faults = { rate5xx: 1 };
    await h.post([page(), page()]);
    await h.until(async () => (await deadLetters(id)).length === 2, 'dead letters', 20000);
    const dls = await deadLetters(id);
    expect(dls[0].attempts).toBe(5);
    expect(dls[0].reason).toMatch(/gave up after 5 attempt\(s\)/);
    expect(h.us.state.requests.filter((r) => r.path === '/import')).toHaveLength(5);
    expect((await stats(id)).dead_letters_waiting).toBe(2);

    h.us.faults = {};
    const one = await h.t.request
      .post(`/v1/admin/integrations/${id}/dead-letters/replay`)
      .set(h.t.auth('acme', 'editor'))
      .send({ ids: [dls[0].id] });
    expect(one.body).toEqual({ replayed: 1 });
    await h.until(() => h.us.eventsOf(US.token).length === 1, 'one replayed');
    const rest = await h.t.request.post(`/v1/admin/integrations/${id}/dead-letters/replay`).set(h.t.auth('acme', 'editor')).send({});
    expect(rest.body).toEqual({ replayed: 1 });
    await h.until(() => h.us.eventsOf(US.token).length === 2, 'all replayed');
    expect(await deadLetters(id)).toHaveLength(0);
    const replayed = await h.t.request.get(`/v1/admin/integrations/${id}/dead-letters?status=replayed`).set(h.t.auth('acme'));
    expect(replayed.body.data).toHaveLength(2);
    expect((await h.t.request.post(`/v1/admin/integrations/${id}/dead-letters/replay`).set(h.t.auth('acme', 'viewer')).send({})).status).toBe(403);
  });

  it('replaying more dead letters than one transaction takes: in transactions of REPLAY_CHUNK, oldest first, each audited, every event once', async () => {
    const id = await h.install('Mixpanel');
    const total = 2 * REPLAY_CHUNK; // an exact multiple: no empty last transaction, no audit of 0
    const base = Date.now() - 3600_000;
    const rows = Array.from({ length: total }, (_, i) => ({
      id: randomUUID(),
      org_id: 'acme',
      integration_id: id,
      event: page({ messageId: `dl-${i}` }),
      reason: 'Mixpanel outage outlived the delivery window',
      attempts: 5,
      created_at: new Date(base + i),
    }));
    await h.t.db.knex.batchInsert('dead_letters', rows, 2000);
    const res = await h.t.request.post(`/v1/admin/integrations/${id}/dead-letters/replay`).set(h.t.auth('acme', 'editor')).send({});
    expect([res.status, res.body]).toEqual([202, { replayed: total }]);
    const audits = await h.t.db.knex('audit_logs').where({ action: 'dead_letters.replay', resource_id: id }).orderBy('id');
    expect(audits.map((a) => a.changes.new.replayed)).toEqual([REPLAY_CHUNK, REPLAY_CHUNK]);
    // The first transaction took the oldest half.
    const halves = await h.t.db.knex('dead_letters').where({ integration_id: id }).groupBy('replayed_at').orderBy('replayed_at')
      .select(h.t.db.knex.raw('count(*)::int AS n, min(created_at) AS oldest, max(created_at) AS newest'));
    expect(halves.map((x) => x.n)).toEqual([REPLAY_CHUNK, REPLAY_CHUNK]);
    expect(halves[0].newest.getTime()).toBeLessThan(halves[1].oldest.getTime());
    await h.until(() => h.us.eventsOf(US.token).length >= total, 'every replayed event at the stand-in', 60_000);
    expect(h.us.eventsOf(US.token)).toHaveLength(total);
    expect(h.us.state.duplicates).toBe(0);
    expect(await deadLetters(id)).toHaveLength(0);
  }, 90_000);

  it('disabling keeps the queue (events wait), enabling delivers it; new events skip a disabled integration', async () => {
    await h.close();
    h = await startHarness({ DELIVERY_MAX_ATTEMPTS: '100', DELIVERY_RETRY_BASE_MS: '100' });
    const id = await h.install('Mixpanel');
    h.us.faults = { rate5xx: 1 };
    await h.post([page()]);
    await h.until(async () => (await logs(id, 'retry')).length >= 1, 'a failed attempt');
    await h.t.request.patch(`/v1/admin/integrations/${id}`).set(h.t.auth('acme')).send({ enabled: false });
    // A batch fetched just before may still be in flight (and fail); once it is back, nothing is sent.
    await h.until(async () => (await stats(id)).in_flight === 0, 'no batch in flight');
    h.us.faults = {};
    await new Promise((r) => setTimeout(r, 500));
    expect(h.us.eventsOf(US.token)).toHaveLength(0);
    expect((await stats(id)).queued).toBe(1);
    await h.post([page()]); // not queued for a disabled integration
    expect((await stats(id)).queued).toBe(1);
    await h.t.request.patch(`/v1/admin/integrations/${id}`).set(h.t.auth('acme')).send({ enabled: true });
    await h.until(() => h.us.eventsOf(US.token).length === 1, 'delivered after enabling');
    expect((await stats(id)).queued).toBe(0);
  });

  it('deleting drops the integration\'s queue and stops delivery, even with a failing request in flight', async () => {
    const id = await h.install('Mixpanel');
    h.us.faults = { rate5xx: 1, delayMs: 800 };
    await h.post([page()]);
    await h.until(() => h.us.received >= 1, 'a request in flight');
    expect((await h.t.request.delete(`/v1/admin/integrations/${id}`).set(h.t.auth('acme'))).status).toBe(204);
    // The in-flight batch then fails (503) and commits its outcome; its retry must not be queued.
    await h.until(async () => (await h.t.db.knex('delivery_logs').where({ integration_id: id })).length === 1, 'the in-flight batch committed');
    await h.post([page()]);
    await new Promise((r) => setTimeout(r, 500));
    const jobs = await h.t.db.knex.raw(`SELECT count(*)::int AS n FROM pgboss.job WHERE group_id = ?`, [id]);
    expect(jobs.rows[0].n).toBe(0);
    expect(h.us.received).toBe(1);
    expect((await h.t.request.get(`/v1/admin/integrations/${id}`).set(h.t.auth('acme'))).status).toBe(404);
    expect(await h.t.db.knex('integration_secrets').where({ integration_id: id })).toHaveLength(0);
  });

  it('logs each failed batch once, with the integration, endpoint, status, Mixpanel\'s error and what happens next', async () => {
    const id = await h.install('Mixpanel');
    h.us.faults = { nextStatuses: [503, 503] };
    await h.post([page()]);
    await h.until(() => h.us.eventsOf(US.token).length === 1, 'delivery after two 503s');
    const failed = h.logs.filter((l) => l.msg.startsWith('delivery failed'));
    // The second 503 is the same failure within a minute: counted, not written again.
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 40, integration_id: id, org_id: 'acme' });
    expect(failed[0].failures).toEqual([
      expect.objectContaining({ endpoint: '/import', http_status: 503, items: 1, next: 'retry', retry_at: expect.any(String) }),
    ]);
    expect(failed[0].msg).toMatch(/^delivery failed: \/import 503 \(.+\): 1 item\(s\) retry at \d{4}-/);
    await h.worker.stop(); // writes what was counted meanwhile
    expect(h.logs.filter((l) => l.msg.startsWith('delivery failed')).at(-1)).toMatchObject({ repeats: 1 });

    const lines = JSON.stringify(h.logs);
    expect(lines).not.toContain(US.apiSecret);
  });

  it('logs events that are dead-lettered or held as errors and warnings', async () => {
    const held = await h.install('Held', { project_token: US.token, api_secret: 'wrong-secret' });
    await h.post([track('X', {}, { anonymousId: 'undefined' }), page()]);
    await h.until(() => h.logs.some((l) => l.msg.startsWith('delivery failed')), 'a failure line');
    const [line] = h.logs.filter((l) => l.msg.startsWith('delivery failed'));
    expect(line).toMatchObject({ level: 50, integration_id: held }); // something was lost: an error, not a warning
    expect(line.msg).toContain('blueprint (anonymousId "undefined" is not a valid Mixpanel distinct_id): 1 item(s) dead-lettered');
    expect(line.msg).toContain('/import 401 (Invalid credentials): 1 item(s) held until the API secret is updated');
  });

  it('exposes Prometheus metrics with the platform\'s names', async () => {
    const id = await h.install('Mixpanel');
    await h.post([page()]);
    await h.until(() => h.us.eventsOf(US.token).length === 1, 'delivery');
    await h.until(async () => (await stats(id)).delivered === 1, 'stats');
    const res = await h.t.request.get('/metrics');
    expect(res.status).toBe(200);
    for (const name of ['delivery_success_rate', 'vendor_success_rate', 'error_rate', 'dlq_depth', 'zero_traffic', 'mixpanel_delivery_items_total', 'delivery_latency_seconds']) {
      expect(res.text).toContain(name);
    }
    expect(res.text).toContain(`delivery_success_rate{integration_id="${id}"} 1`);
    expect(res.text).toContain(`dlq_depth{integration_id="${id}"} 0`);
  });

  it('computes each alert gauge from the last hour of requests, the dead letters and the breaker, per live integration', async () => {
    const [busy, quiet, disabled, deleted] = [await h.install('Busy'), await h.install('Quiet'), await h.install('Disabled'), await h.install('Deleted')];
    expect((await h.t.request.patch(`/v1/admin/integrations/${disabled}`).set(h.t.auth('acme')).send({ enabled: false })).status).toBe(200);
    expect((await h.t.request.delete(`/v1/admin/integrations/${deleted}`).set(h.t.auth('acme'))).status).toBe(204);
    const knex = h.t.db.knex;
    const log = (status: string, http: number, events: number, failed = 0, ago = 60_000) => ({
      org_id: 'acme', integration_id: busy, endpoint: '/import', host: 'api.mixpanel.com', event_count: events, failed_count: failed,
      http_status: http, status, attempt: 1, duration_ms: 20, created_at: new Date(Date.now() - ago),
    });
    await knex('delivery_logs').insert([
      log('delivered', 200, 10), log('partial', 200, 10, 2), log('retry', 503, 5), log('split', 413, 4),
      log('delivered', 200, 100, 0, 2 * 3600_000), // more than an hour ago: not counted
      { ...log('delivered', 200, 7), integration_id: deleted },
    ]);
    const dead = (integrationId: string, status = 'dead') => ({ id: randomUUID(), org_id: 'acme', integration_id: integrationId, event: page(), reason: 'r', attempts: 5, status });
    await knex('dead_letters').insert([dead(busy), dead(busy), dead(busy), dead(busy, 'replayed'), dead(deleted)]);
    await knex('integrations').where({ id: busy }).update({ degraded_since: new Date(), degraded_reason: '503' });

    const text = (await h.t.request.get('/metrics')).text;
    const gauges = ['delivery_success_rate', 'vendor_success_rate', 'error_rate', 'zero_traffic', 'delivery_degraded', 'dlq_depth'];
    const of = (id: string) => Object.fromEntries(gauges.map((g) => [g, new RegExp(`^${g}\\{integration_id="${id}"\\} (\\S+)$`, 'm').exec(text)?.[1]]));
    // success: (10 + 8) of 25 items (the split request's are counted in its halves); 2 of 4 requests 2xx; 1 of 4 failed.
    expect(of(busy)).toEqual({ delivery_success_rate: '0.72', vendor_success_rate: '0.5', error_rate: '0.25', zero_traffic: '0', delivery_degraded: '1', dlq_depth: '3' });
    expect(of(quiet)).toEqual({ delivery_success_rate: undefined, vendor_success_rate: undefined, error_rate: undefined, zero_traffic: '1', delivery_degraded: '0', dlq_depth: '0' });
    expect(of(disabled)).toMatchObject({ zero_traffic: '0', delivery_degraded: '0', dlq_depth: '0' });
    expect(text).not.toContain(deleted);
  });
});
