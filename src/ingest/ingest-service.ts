import type { Knex } from 'knex';
import type { AuditStore } from '../audit/audit-store.js';
import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import { completeEvent, needsCompleting } from '../blueprints/complete-event.js';
import type { EventToQueue } from '../delivery/delivery-job.js';
import type { DeliveryQueue } from '../delivery/delivery-queue.js';
import { inTransaction } from '../db-transaction.js';
import { GroupCommit } from '../shared/group-commit.js';
import { isDatabaseUnavailable } from '../shared/infrastructure-errors.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Actor } from '../auth/actor.js';
import type { PageRequest } from '../shared/pagination.js';
import { eventLimitsReason, eventTimeReason } from './event-limits.js';
import type { ReceivedEvents } from './events-body.js';
import type { EventValidator } from './event-validator.js';
import type { IngestKeyStore } from './ingest-key-store.js';
import { IngestKeyAuth } from './ingest-key-auth.js';
import type { IngestMetrics } from './ingest-metrics.js';
import type { Logger } from '../logger.js';
import type { IntegrationStore } from '../integrations/integration-store.js';

export interface IngestResult {
  accepted: number;
  rejected: { index: number; reason: string }[];
}

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
  /** Requests accepted together queue their jobs in one transaction (see GroupCommit). */
  private readonly commits: GroupCommit<AcceptedEvents>;
  private readonly keyAuth: IngestKeyAuth;

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
      metrics: IngestMetrics;
      logger: Pick<Logger, 'warn'>;
    },
  ) {
    this.keyAuth = new IngestKeyAuth(deps.keys, { revocationCheckMs: deps.revocationCheckMs, failuresPerMinute: deps.authFailuresPerMinute, logger: deps.logger });
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
    let nowhere = 0;
    await inTransaction(this.deps.knex, async (_trx, db) => {
      nowhere = 0; // counted for the attempt that commits
      const byOrg = Map.groupBy(requests, (r) => r.orgId);
      const enabled = await this.deps.integrations.enabledIdsByOrg(db, [...byOrg.keys()]);
      // Under the commit lock, so an integration deleted meanwhile gets no job.
      const live = await this.deps.queue.liveUnderLock([...enabled.values()].flat(), db, this.deps.integrations);
      const jobs = [...byOrg].flatMap(([orgId, ofOrg]) => {
        const integrationIds = (enabled.get(orgId) ?? []).filter((id) => live.has(id));
        if (integrationIds.length === 0) {
          nowhere += ofOrg.reduce((n, r) => n + r.events.length, 0);
          return [];
        }
        // One event list per run, shared by the org's integrations (the queue stores it once).
        return jobEvents(ofOrg).flatMap(({ events, acceptedAt }) => integrationIds.map((integrationId) => ({ data: { orgId, integrationId, events, attempt: 0, acceptedAt } })));
      });
      await this.deps.queue.enqueue(jobs, db);
    });
    this.deps.metrics.queuedNowhere(nowhere);
  }

  /** The org of an ingestion key, from a client at `address` (see IngestKeyAuth). */
  authenticate(key: string, address: string): Promise<string> {
    return this.keyAuth.authenticate(key, address);
  }

  /** Writes the keys' last_used_at still waiting now (the process is stopping). */
  flushLastUsed(): Promise<void> {
    return this.keyAuth.flushLastUsed();
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
      const asReceived = !needsCompleting(e);
      // Fixed once here, so every retry and every integration sees the same id and time.
      const complete = asReceived ? e : completeEvent(e, receivedAt);
      const refusedTime = eventTimeReason(complete.timestamp);
      if (refusedTime) {
        rejected.push({ index, reason: refusedTime });
        return;
      }
      accepted.push(asReceived ? (received ?? Buffer.from(JSON.stringify(e))) : Buffer.from(JSON.stringify(complete))); // as received when it can be
    });
    if (accepted.length > 0) await this.commits.submit({ orgId, events: accepted, acceptedAt: Date.now() });
    this.deps.metrics.received(accepted.length, rejected.length);
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
    this.keyAuth.forgetCached();
  }
}
