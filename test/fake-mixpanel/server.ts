import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { gunzipSync } from 'node:zlib';

/**
 * A stand-in for Mixpanel's Ingestion API that behaves as MIXPANEL.md says: Basic auth on /import (the
 * API secret, or a service account with `project_id`), tokens on /engage and /groups, 2000/200 items
 * per request, 2 MB bodies (413), strict=1 per-event validation with failed_records, deduplication on
 * (event, distinct_id, time, $insert_id), gzip bodies, and injected 429/5xx/timeouts on request.
 */
export interface FakeProject {
  token: string;
  apiSecret: string;
  /** A service account of the project's organisation that may import into it, and the project's id. */
  serviceAccount?: { username: string; secret: string; projectId: string };
}

export interface Faults {
  rate429?: number;
  rate5xx?: number;
  rateTimeout?: number;
  /** Seconds, sent as Retry-After with 429s when set. */
  retryAfter?: number;
  /** Answer the next N requests with this status (then back to normal); 0 means never answer. */
  nextStatuses?: number[];
  /** Ingest the next N /import requests normally, then answer with this status (the answer is "lost"). */
  afterIngestStatuses?: number[];
  /** Answer the next N requests with 200 and a web page, storing nothing (a proxy or a wrong URL in Mixpanel's place). */
  notMixpanelNext?: number;
  /** Wait this long before answering. */
  delayMs?: number;
  /**
   * Refuse a whole /import request (400 without failed_records, as for a body Mixpanel cannot take)
   * when any of its events carries this property: a poison event the sender must isolate.
   */
  poisonProperty?: string;
  /** Mixpanel's clock is this far behind ours: an event less than an hour ahead of ours can be too far ahead of its. */
  clockBehindMs?: number;
}

export interface StoredEvent {
  event: string;
  properties: Record<string, unknown>;
}

/** An identity link Mixpanel made (Original ID Merge), or one it declined, with its reason. */
export interface IdentityLink {
  via: '$identify' | '$merge' | '$create_alias';
  ids: [string, string];
  refused?: string;
}

export interface FakeState {
  events: Map<string, StoredEvent[]>;
  /** Links made or declined by $identify, $merge and $create_alias, in arrival order. */
  identities: IdentityLink[];
  /** Events stored per project token (kept even when the events themselves are not). */
  counts: Map<string, number>;
  duplicates: number;
  engage: Record<string, unknown>[];
  groups: Record<string, unknown>[];
  requests: { path: string; status: number; count: number; gzip: boolean; host?: string; query: string; user?: string }[];
}

const MAX_BYTES = 2 * 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const PROFILE_OPERATIONS = new Set(['$set', '$set_once', '$add', '$union', '$append', '$remove', '$unset', '$delete']);
const GROUP_OPERATIONS = new Set(['$set', '$set_once', '$union', '$remove', '$unset', '$delete']);
/** /import refuses events dated before this. */
const EARLIEST_TIME_MS = Date.UTC(1971, 0, 1);
const INVALID_IDS = new Set(['00000000-0000-0000-0000-000000000000', 'anon', 'anonymous', 'nil', 'none', 'null', 'n/a', 'na', 'undefined', 'unknown', '<nil>', '0', '-1', 'true', 'false', '[]', '{}']);

export class FakeMixpanel {
  private server?: Server;
  faults: Faults = {};
  state: FakeState = { events: new Map(), identities: [], counts: new Map(), duplicates: 0, engage: [], groups: [], requests: [] };
  private readonly seen = new Set<string>();
  /** Requests whose body has arrived (answered or not). */
  received = 0;
  /** Request body cap in bytes (uncompressed); Mixpanel's is 2 MB, lower it to provoke 413s. */
  maxBytes = MAX_BYTES;
  /** Keep every stored event for inspection; the benchmark turns this off and keeps counts only. */
  keepEvents = true;
  /** Called for every event stored (not duplicates), with its arrival time. */
  onEvent?: (e: StoredEvent, at: number) => void;

  constructor(
    private readonly projects: FakeProject[],
    private readonly tls?: { key: string; cert: string },
  ) {}

  get url(): string {
    const a = this.server?.address();
    if (!a || typeof a === 'string') throw new Error('not listening');
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${a.port}`;
  }

  async start(port = 0): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = this.tls ? createTlsServer(this.tls, handler) : createServer(handler);
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  reset(): void {
    this.faults = {};
    this.state = { events: new Map(), identities: [], counts: new Map(), duplicates: 0, engage: [], groups: [], requests: [] };
    this.seen.clear();
  }

  /** Every stored event of one project token. */
  eventsOf(token: string): StoredEvent[] {
    return this.state.events.get(token) ?? [];
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  private injected(): number | undefined {
    const f = this.faults;
    const forced = f.nextStatuses?.shift();
    if (forced === 0) return 0; // a timeout
    if (forced) return forced;
    const r = Math.random();
    if (f.rateTimeout && r < f.rateTimeout) return 0;
    if (f.rate429 && r < (f.rateTimeout ?? 0) + f.rate429) return 429;
    if (f.rate5xx && r < (f.rateTimeout ?? 0) + (f.rate429 ?? 0) + f.rate5xx) return 503;
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.received++;
    const url = new URL(req.url ?? '/', 'http://x');
    if (this.faults.delayMs) await sleep(this.faults.delayMs);
    const path = url.pathname;
    const auth = req.headers.authorization?.startsWith('Basic ') ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString('utf8') : undefined;
    // The Basic user when it is not a secret (a service account's username), never a password.
    const user = auth?.includes(':') && !auth.endsWith(':') ? auth.slice(0, auth.indexOf(':')) : undefined;
    const record = (status: number, count = 0) =>
      this.state.requests.push({ path, status, count, gzip: req.headers['content-encoding'] === 'gzip', host: req.headers.host, query: url.search, ...(user ? { user } : {}) });

    if (this.faults.notMixpanelNext) {
      this.faults.notMixpanelNext--;
      record(200);
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html><body><h1>Welcome to nginx!</h1></body></html>');
      return;
    }
    const fault = this.injected();
    if (fault === 0) {
      record(0);
      return; // never answer: the client times out
    }
    if (fault === 429) {
      record(429);
      return this.send(
        res,
        429,
        { code: 429, error: 'Project exceeded rate limits. Please retry the request with exponential backoff.', status: 'Too Many Requests' },
        this.faults.retryAfter ? { 'Retry-After': String(this.faults.retryAfter) } : {},
      );
    }
    if (fault) {
      record(fault);
      return this.send(res, fault, { code: fault, error: 'Service Unavailable', status: 'error' });
    }

    let raw = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') {
      try {
        // Usually one piece (not 16 KB ones), sized to the body: a fixed 4 MB piece per request made the
        // stand-in's garbage collection grow with the number of requests.
        raw = gunzipSync(raw, { chunkSize: Math.min(4 * 1024 * 1024, Math.max(64 * 1024, raw.length * 16)) });
      } catch {
        record(400);
        return this.send(res, 400, { code: 400, error: 'invalid gzip body', status: 'Bad Request' });
      }
    }
    if (raw.length > this.maxBytes) {
      record(413);
      return this.send(res, 413, { code: 413, error: `request exceeds max limit of ${this.maxBytes} bytes`, status: 'Payload Too Large' });
    }
    let items: Record<string, unknown>[];
    try {
      const form = String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded');
      let text = raw.toString('utf8').trim();
      if (form) {
        // `data=<base64 of the JSON array>`, as the official client libraries send it
        const data = text.startsWith('data=') ? text.slice(5) : text;
        text = Buffer.from(data.includes('%') ? decodeURIComponent(data) : data, 'base64').toString('utf8');
      }
      items = text.startsWith('[') ? JSON.parse(text) : text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      if (!Array.isArray(items)) throw new Error('not an array');
    } catch {
      record(400);
      return this.send(res, 400, { code: 400, error: 'unable to parse request body', status: 'Bad Request' });
    }
    if (path === '/import') return this.importEvents(req, res, url, items, record);
    if (path === '/engage' || path === '/groups') return this.updates(res, path, items, record);
    record(404);
    this.send(res, 404, { code: 404, error: 'not found', status: 'Not Found' });
  }

  private importEvents(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    events: Record<string, unknown>[],
    record: (status: number, count?: number) => void,
  ): void {
    const auth = req.headers.authorization ?? '';
    const decoded = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : '';
    // `secret:` (the project's API secret), or `username:secret` of a service account with ?project_id=.
    const colon = decoded.indexOf(':');
    const [user, password] = colon < 0 ? [undefined, undefined] : [decoded.slice(0, colon), decoded.slice(colon + 1)];
    const projectId = url.searchParams.get('project_id');
    const project = this.projects.find((p) =>
      password === ''
        ? p.apiSecret === user
        : p.serviceAccount !== undefined && p.serviceAccount.username === user && p.serviceAccount.secret === password && p.serviceAccount.projectId === projectId,
    );
    if (!project) {
      record(401);
      return this.send(res, 401, { code: 401, error: 'Invalid credentials', status: 'Unauthorized' });
    }
    if (events.length > 2000) {
      record(400);
      return this.send(res, 400, { code: 400, error: 'request contains more than 2000 events', status: 'Bad Request' });
    }
    const poison = this.faults.poisonProperty;
    if (poison && events.some((e) => Object.hasOwn((e.properties ?? {}) as object, poison))) {
      record(400);
      return this.send(res, 400, { code: 400, error: `unable to process property ${poison}`, status: 'Bad Request' });
    }
    const strict = url.searchParams.get('strict') === '1';
    const failed: { index: number; insert_id: string; field: string; message: string }[] = [];
    let imported = 0;
    events.forEach((e, index) => {
      const problem = this.problem(e);
      const props = (e.properties ?? {}) as Record<string, unknown>;
      if (problem) {
        failed.push({ index, insert_id: String(props.$insert_id ?? ''), field: problem.field, message: problem.message });
        return;
      }
      const key = `${e.event}|${props.distinct_id}|${props.time}|${props.$insert_id}`;
      if (this.seen.has(key)) {
        this.state.duplicates++;
      } else {
        this.seen.add(key);
        this.state.counts.set(project.token, (this.state.counts.get(project.token) ?? 0) + 1);
        if (this.keepEvents) {
          const list = this.state.events.get(project.token) ?? [];
          list.push(e as unknown as StoredEvent);
          this.state.events.set(project.token, list);
        }
        this.onEvent?.(e as unknown as StoredEvent, Date.now());
        this.link(e.event as string, props);
      }
      imported++;
    });
    const lost = this.faults.afterIngestStatuses?.shift();
    if (lost) {
      record(lost, imported);
      return this.send(res, lost, { code: lost, error: 'Bad Gateway', status: 'error' });
    }
    if (failed.length > 0 && strict) {
      record(400, imported);
      return this.send(res, 400, {
        code: 400,
        error: 'some data points in the request failed validation',
        num_records_imported: imported,
        status: 'Bad Request',
        failed_records: failed,
      });
    }
    record(200, imported);
    this.send(res, 200, { code: 200, num_records_imported: imported, status: 'OK' });
  }

  private problem(e: Record<string, unknown>): { field: string; message: string } | undefined {
    if (typeof e.event !== 'string' || e.event === '') return { field: 'event', message: "'event' must be a non-empty string" };
    const p = e.properties as Record<string, unknown> | undefined;
    if (!p || typeof p !== 'object') return { field: 'properties', message: "'properties' must be an object" };
    if (typeof p.time !== 'number') return { field: 'properties.time', message: "'properties.time' is invalid: must be a number" };
    // Seconds or milliseconds since epoch, as Mixpanel takes both (a number below 1e11 read as seconds).
    const ms = Math.abs(p.time) < 1e11 ? p.time * 1000 : p.time;
    if (ms < EARLIEST_TIME_MS) return { field: 'properties.time', message: "'properties.time' is invalid: must be after 1971-01-01" };
    if (ms > Date.now() - (this.faults.clockBehindMs ?? 0) + 3600_000) return { field: 'properties.time', message: "'properties.time' is too far in the future" };
    const d = p.distinct_id;
    if (typeof d !== 'string' || d === '' || INVALID_IDS.has(d.toLowerCase())) {
      return { field: 'properties.distinct_id', message: `'properties.distinct_id' is invalid: ${JSON.stringify(d)}` };
    }
    const id = p.$insert_id;
    if (typeof id !== 'string' || !/^[A-Za-z0-9-]{1,36}$/.test(id)) {
      return { field: 'properties.$insert_id', message: "'properties.$insert_id' must be ≤ 36 characters of [A-Za-z0-9-]" };
    }
    return undefined;
  }

  /** What Original ID Merge does with identity events: $identify merges only a UUID v4 $anon_id. */
  private link(event: string, p: Record<string, unknown>): void {
    if (event === '$identify') {
      const anon = String(p.$anon_id);
      this.state.identities.push({
        via: '$identify',
        ids: [String(p.$identified_id), anon],
        ...(UUID_V4.test(anon) ? {} : { refused: '$anon_id must be UUID v4' }),
      });
    } else if (event === '$merge') {
      const ids = p.$distinct_ids as string[];
      this.state.identities.push({ via: '$merge', ids: [ids[0], ids[1]] });
    } else if (event === '$create_alias') {
      this.state.identities.push({ via: '$create_alias', ids: [String(p.alias), String(p.distinct_id)] });
    }
  }

  private updates(res: ServerResponse, path: string, items: Record<string, unknown>[], record: (status: number, count?: number) => void): void {
    const limit = path === '/groups' ? 200 : 2000;
    if (items.length > limit) {
      record(400);
      return this.send(res, 400, { status: 0, error: `request contains more than ${limit} updates` });
    }
    const tokens = new Set(this.projects.map((p) => p.token));
    const bad = items.find((u) => !tokens.has(String(u.$token)));
    if (bad) {
      record(200);
      return this.send(res, 200, { status: 0, error: '$token, missing or invalid' });
    }
    // One operation per update object, from the documented list; $unset takes a list of names.
    const ops = path === '/groups' ? GROUP_OPERATIONS : PROFILE_OPERATIONS;
    const invalid = items.find((u) => {
      const own = Object.keys(u).filter((k) => ops.has(k));
      return own.length !== 1 || (own[0] === '$unset' && !Array.isArray(u.$unset));
    });
    if (invalid) {
      record(400);
      return this.send(res, 400, { status: 0, error: 'each update needs exactly one valid operation' });
    }
    (path === '/groups' ? this.state.groups : this.state.engage).push(...items);
    record(200, items.length);
    this.send(res, 200, { status: 1, error: null });
  }
}
