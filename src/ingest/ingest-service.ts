import type { Knex } from 'knex';
import { LRUCache } from 'lru-cache';
import type { AuditStore } from '../audit/audit-store.js';
import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import { completeEvent, needsCompleting } from '../blueprints/complete-event.js';
import type { EventToQueue } from '../delivery/delivery-job.js';
import type { DeliveryQueue } from '../delivery/delivery-queue.js';
import { inTransaction } from '../db-transaction.js';
import { GroupCommit } from '../shared/group-commit.js';
import { isDatabaseUnavailable } from '../shared/infrastructure-errors.js';
import { InvalidTokenError, NotFoundError, RateLimitedError, ValidationError } from '../errors.js';
import type { Actor } from '../auth/actor.js';
import type { PageRequest } from '../shared/pagination.js';
import { clientOf } from '../shared/client-address.js';
import { eventLimitsReason } from './event-limits.js';
import type { ReceivedEvents } from './events-body.js';
import type { EventValidator } from './event-validator.js';
import { hashKey, type IngestKeyStore } from './ingest-key-store.js';
import type { IntegrationStore } from '../integrations/integration-store.js';

export interface IngestResult {
  accepted: number;
  rejected: { index: number; reason: string }[];
}

/**
 * A key seen active is trusted this long at most; meanwhile the keys revoked lately are looked up every
 * `revocationCheckMs` (see forgetRevoked), so an org that posts once a minute needs no lookup per POST.
 */
const KEY_CACHE_MS = 10 * 60_000;
const KEY_CACHE_MAX = 100_000;
/**
 * A key looked up and not found (mistyped, revoked, made up) is answered from memory this long: a client
 * retrying with it costs no lookup. Keys are random, so none found now can become valid later.
 */
const UNKNOWN_KEY_MS = 60_000;
const UNKNOWN_KEY_MAX = 10_000;
const UNKNOWN_KEY = 'Unknown or revoked ingestion key';
/** Clients whose unknown keys are counted at once; past that the least recent are forgotten (memory stays bounded). */
const GUESSING_CLIENTS_MAX = 100_000;
const GUESS_WINDOW_MS = 60_000;

/** A key's last_used_at is written at most this often; keys used meanwhile are written together within USE_WRITE_MS. */
const USE_RECORD_MS = 60_000;
const USE_WRITE_MS = 1000;
/** Revocations looked for go back this much further than a cached key can live (a revoke's transaction may commit late). */
const REVOCATION_MARGIN_MS = 60_000;

/** One request's accepted events (each one's JSON), waiting for the commit that queues them. */
interface AcceptedEvents {
  orgId: string;
  events: Buffer[];
  acceptedAt: number;
}

/**
 * Requests of one org that share a commit share its jobs, up to a request's own limit of events and
 * Mixpanel's limit of a request body's bytes: a thousand browsers posting a few events each make a
 * job per commit round, not one each.
 */
const JOB_MAX_EVENTS = 1000;
const JOB_MAX_BYTES = 2 * 1024 * 1024;

/** The requests' events in runs of requests, in order, within the job limits (a request is never cut). */
function jobEvents(requests: AcceptedEvents[]): { events: EventToQueue[]; acceptedAt: number }[] {
  const runs: { parts: AcceptedEvents[]; events: number; bytes: number }[] = [];
  for (const r of requests) {
    const last = runs.at(-1);
    const bytes = r.events.reduce((n, e) => n + e.length, 0);
    if (last && last.events + r.events.length <= JOB_MAX_EVENTS && last.bytes + bytes <= JOB_MAX_BYTES) {
      last.parts.push(r);
      last.events += r.events.length;
      last.bytes += bytes;
    } else {
      runs.push({ parts: [r], events: r.events.length, bytes });
    }
  }
  return runs.map(({ parts }) => ({
    events: parts.length === 1 ? parts[0].events : parts.flatMap((p) => p.events),
    acceptedAt: Math.min(...parts.map((p) => p.acceptedAt)),
  }));
}

/** One event of a body cut on its bytes: the whole body is invalid JSON if this event is. */
function parseEventJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ValidationError('The request body is not valid JSON');
  }
}

/**
 * Accepts canonical events for an org and queues them, in one transaction, for each of the org's
 * enabled integrations (one INSERT of all their jobs; requests accepted at the same time share that
 * transaction and, those of one org, its jobs). The answer is given only after that commits.
 */
export class IngestService {
  /** Active keys seen lately, by hash, and when each one's last_used_at was last set by this process. */
  private readonly keyCache = new LRUCache<string, { id: string; orgId: string; touchedAt: number }>({ max: KEY_CACHE_MAX, ttl: KEY_CACHE_MS });
  private revocationsCheckedAt = 0;
  private revocationCheck?: Promise<void>;
  private readonly unknownKeys = new LRUCache<string, true>({ max: UNKNOWN_KEY_MAX, ttl: UNKNOWN_KEY_MS });
  /** Keys a client looked up in vain (in this process) in the minute since its first: past the limit, no more lookups for it. */
  private readonly guesses = new LRUCache<string, { tried: number; since: number }>({ max: GUESSING_CLIENTS_MAX, ttl: GUESS_WINDOW_MS });

  /** Keys used (ids) whose last_used_at waits for the next write (see recordUse). */
  private readonly used = new Set<string>();
  private useWrite?: NodeJS.Timeout;
  private useWriting?: Promise<void>;

  /** Requests accepted together queue their jobs in one transaction (see GroupCommit). */
  private readonly commits: GroupCommit<AcceptedEvents>;

  constructor(
    private readonly deps: {
      knex: Knex;
      keys: IngestKeyStore;
      /** The integrations table's owner: which integrations of the org get the events. */
      integrations: Pick<IntegrationStore, 'enabledIdsByOrg' | 'liveIds'>;
      queue: DeliveryQueue;
      validator: EventValidator;
      audit: AuditStore;
      /** Transactions queueing accepted events at once, and requests sharing one at most. */
      commits: { inFlight: number; requestsPerCommit: number };
      /** How soon a key revoked through another process stops working here. */
      revocationCheckMs: number;
      /** Unknown keys one client may try per minute (see authenticate). */
      authFailuresPerMinute: number;
    },
  ) {
    this.commits = new GroupCommit((requests) => this.queueAll(requests), {
      concurrency: deps.commits.inFlight,
      maxItems: deps.commits.requestsPerCommit,
      alone: (err) => !isDatabaseUnavailable(err),
    });
  }

  /**
   * Queues the accepted events of several requests in one INSERT: for each enabled integration of an
   * org, its requests' events in as few jobs as the job limits allow (see jobEvents).
   */
  private async queueAll(requests: AcceptedEvents[]): Promise<void> {
    await inTransaction(this.deps.knex, async (_trx, db) => {
      const byOrg = Map.groupBy(requests, (r) => r.orgId);
      const enabled = await this.deps.integrations.enabledIdsByOrg(db, [...byOrg.keys()]);
      // Under the commit lock, so an integration deleted meanwhile gets no job.
      const live = await this.deps.queue.liveUnderLock([...enabled.values()].flat(), db, this.deps.integrations);
      const jobs = [...byOrg].flatMap(([orgId, ofOrg]) => {
        const integrationIds = (enabled.get(orgId) ?? []).filter((id) => live.has(id));
        if (integrationIds.length === 0) return [];
        // One event list per run, shared by the org's integrations (the queue stores it once).
        return jobEvents(ofOrg).flatMap(({ events, acceptedAt }) => integrationIds.map((integrationId) => ({ data: { orgId, integrationId, events, attempt: 0, acceptedAt } })));
      });
      await this.deps.queue.enqueue(jobs, db);
    });
  }

  /**
   * The org of an ingestion key. Keys are cached; a key revoked through this process stops at once,
   * through another one within `revocationCheckMs`. Unknown keys are remembered a while, and a client
   * (its `address`; see clientOf) that has tried `authFailuresPerMinute` unknown ones within a minute
   * gets 429 for keys not cached here, without a lookup: guessing keys cannot keep the database busy.
   * Keys in use (cached) go on working from that client. Counted in an LRU, so a flood of addresses
   * costs bounded memory (past it, the least recent are forgotten and may look up again).
   */
  async authenticate(key: string, address: string): Promise<string> {
    await this.forgetRevoked();
    const hash = hashKey(key);
    let hit = this.keyCache.get(hash);
    if (!hit) {
      if (this.unknownKeys.has(hash)) throw new InvalidTokenError(UNKNOWN_KEY);
      const client = clientOf(address);
      this.refuseClientGuessing(client);
      const found = await this.deps.keys.orgOf(hash);
      if (!found) {
        this.unknownKeys.set(hash, true);
        const guessed = this.guesses.get(client);
        if (guessed) guessed.tried++; // the window still runs from its first guess
        else this.guesses.set(client, { tried: 1, since: Date.now() });
        throw new InvalidTokenError(UNKNOWN_KEY);
      }
      hit = { ...found, touchedAt: 0 };
      this.keyCache.set(hash, hit);
    }
    const now = Date.now();
    if (hit.touchedAt < now - USE_RECORD_MS) {
      hit.touchedAt = now;
      this.recordUse(hit.id);
    }
    return hit.orgId;
  }

  /**
   * last_used_at of the keys used within a second is written in one UPDATE: one transaction a second
   * at most, however many orgs post, instead of one per key a minute (and one per org's first POST).
   * No timer runs while no key is used.
   */
  private recordUse(id: string): void {
    this.used.add(id);
    this.useWrite ??= setTimeout(() => void this.writeUse(), USE_WRITE_MS).unref();
  }

  private writeUse(): Promise<void> {
    clearTimeout(this.useWrite);
    this.useWrite = undefined;
    const ids = [...this.used];
    this.used.clear();
    if (ids.length === 0) return this.useWriting ?? Promise.resolve();
    // Best effort: a failed write leaves last_used_at a minute or so behind, nothing else.
    const writing: Promise<void> = this.deps.keys
      .touchAll(ids)
      .catch(() => {})
      .finally(() => {
        if (this.useWriting === writing) this.useWriting = undefined;
      });
    this.useWriting = writing;
    return writing;
  }

  /** Writes the last_used_at still waiting now (the process is stopping). */
  async flushLastUsed(): Promise<void> {
    await this.writeUse();
  }

  private refuseClientGuessing(client: string): void {
    const guessed = this.guesses.get(client);
    if (!guessed || guessed.tried < this.deps.authFailuresPerMinute) return;
    const seconds = Math.max(1, Math.ceil((guessed.since + GUESS_WINDOW_MS - Date.now()) / 1000));
    throw new RateLimitedError(`Too many unknown ingestion keys from this client (${this.deps.authFailuresPerMinute} per minute); retry in ${seconds} s`, seconds);
  }

  /**
   * Drops cached keys revoked lately, at most once per `revocationCheckMs` and only while keys are
   * cached: one small query per interval for the whole process, instead of one lookup per POST (every
   * POST of an org posting less often than every few seconds). Requests meanwhile wait for it.
   */
  private forgetRevoked(): Promise<void> | undefined {
    const now = Date.now();
    if (this.keyCache.size === 0) this.revocationsCheckedAt = now; // keys cached from now on are read fresh
    if (now - this.revocationsCheckedAt < this.deps.revocationCheckMs) return undefined;
    this.revocationCheck ??= this.deps.keys
      .revokedWithin((KEY_CACHE_MS + REVOCATION_MARGIN_MS) / 1000)
      .then((hashes) => {
        for (const hash of hashes) this.keyCache.delete(hash);
        this.revocationsCheckedAt = now;
      })
      .finally(() => (this.revocationCheck = undefined));
    return this.revocationCheck;
  }

  /**
   * The body's events, parsed or (usually) each one's JSON bytes as received. Each is parsed, checked
   * and let go in turn, so a thousand parsed events never sit in memory together; an event accepted as
   * received is queued from its own bytes.
   */
  async ingest(orgId: string, body: ReceivedEvents): Promise<IngestResult> {
    const accepted: Buffer[] = [];
    const rejected: IngestResult['rejected'] = [];
    const receivedAt = new Date().toISOString();
    body.events.forEach((item: unknown, index) => {
      const received = body.kind === 'bytes' ? (item as Buffer) : undefined;
      const raw = received ? parseEventJson(received) : item;
      // Mixpanel's and PostgreSQL's limits first (one iterative walk), then the contract's schema.
      const reason = eventLimitsReason(raw, received) ?? this.deps.validator.reason(raw);
      if (reason) {
        rejected.push({ index, reason });
        return;
      }
      const e = raw as CanonicalEvent;
      if (!needsCompleting(e)) {
        accepted.push(received ?? Buffer.from(JSON.stringify(e))); // queued from the bytes as received
        return;
      }
      // Fixed once here, so every retry and every integration sees the same id and time.
      accepted.push(Buffer.from(JSON.stringify(completeEvent(e, receivedAt))));
    });
    if (accepted.length > 0) await this.commits.submit({ orgId, events: accepted, acceptedAt: Date.now() });
    return { accepted: accepted.length, rejected };
  }

  async createKey(actor: Actor, name: string) {
    return this.deps.knex.transaction(async (trx) => {
      const created = await this.deps.keys.create(trx, actor.orgId, name, actor.userId);
      await this.deps.audit.byActor(trx, actor, 'ingest_key.create', { type: 'ingest_key', id: created.record.id }, { old: null, new: { name, key_prefix: created.record.key_prefix } });
      return created;
    });
  }

  listKeys(orgId: string, page: PageRequest) {
    return this.deps.keys.list(orgId, page);
  }

  async revokeKey(actor: Actor, id: string): Promise<void> {
    await this.deps.knex.transaction(async (trx) => {
      const revoked = await this.deps.keys.revoke(trx, actor.orgId, id);
      if (!revoked) throw new NotFoundError(`No active ingestion key ${id}`);
      await this.deps.audit.byActor(trx, actor, 'ingest_key.revoke', { type: 'ingest_key', id }, { old: { revoked_at: null }, new: { revoked_at: revoked.revoked_at } });
    });
    this.keyCache.clear();
  }
}
