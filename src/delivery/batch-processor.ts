import type pg from 'pg';
import type PgBoss from 'pg-boss';
import type { BlueprintCache } from '../blueprints/engine.js';
import type { MixpanelEndpoint, MixpanelItem } from '../destinations/mixpanel/wire.js';
import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import type { DeliveryConfig } from '../config.js';
import type { MixpanelClient } from '../destinations/mixpanel/client.js';
import { classify } from '../destinations/mixpanel/outcome.js';
import { BatchPlanner, requestUrl, subBody, type MixpanelRegion, type PlannedBatch } from '../destinations/mixpanel/requests.js';
import { regionOf, type IntegrationRecord } from '../integrations/integration.js';
import type { IntegrationStore } from '../integrations/integration-store.js';
import { nextAttemptDelayMs, retryDelayMs } from './backoff.js';
import type { BatchHealth } from './breaker.js';
import { toDeliveryJob, type DeliveryJob, type FetchedJob, type PendingItem } from './delivery-job.js';
import type { DeliveryQueue, QueueDb } from './delivery-queue.js';
import type { BatchRecord, DeliveryStore } from './delivery-store.js';
import type { Gate } from './gate.js';
import { parseSpan } from '../shared/json-spans.js';
import { pgTransaction } from '../db-transaction.js';
import type { DeliveryMetrics } from './metrics.js';

type EntryState = 'pending' | 'done' | 'dead' | 'retry' | 'hold';

/** One Mixpanel item being delivered; its bytes live in its planned batch's body. */
interface Entry {
  job: number;
  e: number;
  endpoint: MixpanelEndpoint;
  batch?: PlannedBatch<Entry>;
  /** Its position in the batch. */
  k?: number;
  state: EntryState;
  reason?: string;
  /** Mixpanel's HTTP status for an item that did not go through (0: no answer). */
  httpStatus?: number;
  /** When a retried item is due again. */
  retryAt?: Date;
}

/** The Mixpanel item of an entry, read back from its batch's body (for retries only). */
function itemOf(en: Entry): MixpanelItem {
  const { batch, k } = en as Required<Entry>;
  return { endpoint: en.endpoint, body: parseSpan(batch.body, batch.spans, k) as MixpanelItem['body'] };
}

export interface ProcessorDeps {
  pool: pg.Pool;
  /** The integrations table's owner, for marking credentials refused. */
  integrations: Pick<IntegrationStore, 'markAuthFailed' | 'liveIds'>;
  queue: DeliveryQueue;
  store: DeliveryStore;
  client: MixpanelClient;
  blueprints: BlueprintCache;
  config: DeliveryConfig;
  baseUrls: Record<MixpanelRegion, string>;
  metrics: DeliveryMetrics;
}

export interface BatchSummary {
  delivered: number;
  dead: number;
  retried: number;
  held: number;
  authFailed?: string;
  /** What the batch said about Mixpanel, for the integration's circuit breaker. */
  health: BatchHealth;
  lastError?: string;
  /** What went wrong, one entry per kind of failure (for the log); empty when everything went through. */
  failures: DeliveryFailure[];
}

/** Items of one batch that failed the same way, and what happens to them next. */
export interface DeliveryFailure {
  /** `/import`, `/engage`, `/groups`, or `blueprint` for events the blueprint refused. */
  endpoint: string;
  /** Mixpanel's HTTP status; 0 when no answer came (timeout, connection error); absent for the blueprint. */
  http_status?: number;
  /** Mixpanel's error (or the connection error, or the blueprint's reason). */
  error: string;
  items: number;
  next: 'retry' | 'dead-lettered' | 'held';
  /** For `retry`: when the earliest of them is sent again. */
  retry_at?: string;
}

/** An event for its dead letter: as stored, or a note when even that cannot be read back. */
function readableEvent(events: FetchedJob['events'], e: number): CanonicalEvent {
  let reason: string;
  try {
    const event = events.at(e);
    if (event !== null && typeof event === 'object' && !Array.isArray(event)) return event;
    reason = 'it is not a JSON object';
  } catch (err) {
    reason = (err as Error).message;
  }
  return { unreadable_event: `the queued event could not be read: ${reason}` } as unknown as CanonicalEvent;
}

/** Why events are dead-lettered when they were not delivered within the delivery window. */
function outlived(maxAgeMs: number, lastError: string): string {
  const window = maxAgeMs % 3_600_000 === 0 ? `${maxAgeMs / 3_600_000} h` : `${Math.round(maxAgeMs / 1000)} s`;
  return `gave up: not delivered within the delivery window (${window}); last error: ${lastError}`;
}

function emptyRecord(): BatchRecord {
  return { logs: [], deadLetters: [], delivered: { events: 0, profileUpdates: 0, groupUpdates: 0 }, eventsDelivered: 0, failed: 0, skipped: 0 };
}

/** Counts Mixpanel's objects by kind: what `delivered` means per endpoint. */
const KIND: Record<MixpanelEndpoint, 'events' | 'profileUpdates' | 'groupUpdates'> = {
  '/import': 'events',
  '/engage': 'profileUpdates',
  '/groups': 'groupUpdates',
};

/** Groups the items that did not go through by endpoint, status, reason and fate, for the log. */
function failuresOf(entries: Entry[], rejectedByBlueprint: string[]): DeliveryFailure[] {
  const groups = new Map<string, DeliveryFailure>();
  for (const en of entries) {
    if (en.state === 'done' || en.state === 'pending') continue;
    const next = en.state === 'retry' ? 'retry' : en.state === 'hold' ? 'held' : 'dead-lettered';
    const error = en.reason ?? 'refused';
    const key = `${en.endpoint}|${en.httpStatus}|${next}|${error}`;
    const g = groups.get(key) ?? { endpoint: en.endpoint, http_status: en.httpStatus, error, items: 0, next };
    g.items++;
    const at = en.retryAt?.toISOString();
    if (at && (!g.retry_at || at < g.retry_at)) g.retry_at = at;
    groups.set(key, g);
  }
  for (const reason of rejectedByBlueprint) {
    const key = `blueprint|${reason}`;
    const g = groups.get(key) ?? { endpoint: 'blueprint', error: reason, items: 0, next: 'dead-lettered' as const };
    g.items++;
    groups.set(key, g);
  }
  return [...groups.values()];
}

/**
 * Delivers the jobs fetched for one integration: maps new events with the current blueprint, cuts the
 * Mixpanel items into requests, sends them through the integration's gate, sorts every item by what
 * Mixpanel answered, then in one transaction writes logs, dead letters and counters, queues the
 * retries and completes the jobs. A crash before that commit leaves the jobs to expire and come back;
 * resent events carry the same $insert_id and time, so Mixpanel keeps one copy.
 */
export class BatchProcessor {
  constructor(private readonly deps: ProcessorDeps) {}

  /**
   * `holdTransientUntil`: the integration's circuit breaker is open and this batch is its probe; items
   * that fail transiently again wait until then without spending an attempt.
   */
  async process(
    integration: IntegrationRecord,
    apiSecret: string,
    gate: Gate,
    jobs: PgBoss.Job<FetchedJob>[],
    holdTransientUntil?: Date,
  ): Promise<BatchSummary> {
    const planner = new BatchPlanner<Entry>();
    try {
      return await this.deliver(planner, integration, apiSecret, gate, jobs, holdTransientUntil);
    } finally {
      planner.release(); // nothing reads the request bodies any more
    }
  }

  private async deliver(
    planner: BatchPlanner<Entry>,
    integration: IntegrationRecord,
    apiSecret: string,
    gate: Gate,
    jobs: PgBoss.Job<FetchedJob>[],
    holdTransientUntil: Date | undefined,
  ): Promise<BatchSummary> {
    const record = emptyRecord();
    const rejectedByBlueprint: string[] = [];
    const entries: Entry[] = [];
    const dead = new Map<string, { job: number; e: number; reasons: string[] }>();
    const markDead = (job: number, e: number, reason: string) => {
      const key = `${job}:${e}`;
      const d = dead.get(key) ?? { job, e, reasons: [] };
      d.reasons.push(reason);
      dead.set(key, d);
    };

    const compiled = this.deps.blueprints.get(`${integration.id}:${integration.revision}`, integration.blueprint);
    const ctx = { projectToken: integration.config.project_token };
    // Each event is parsed, mapped and serialised into its request body in turn, and then let go. One
    // that makes any of that throw is dead-lettered with the reason; its neighbours go on.
    const add = (job: number, e: number, items: MixpanelItem[]) => {
      const serialised = items.map((item) => JSON.stringify(item.body)); // all or none of an event's items
      items.forEach((item, i) => {
        const en: Entry = { job, e, endpoint: item.endpoint, state: 'pending' };
        entries.push(en);
        planner.addJson(en, item.endpoint, serialised[i]);
      });
    };
    const poisoned = (j: number, e: number, err: unknown) => {
      const reason = `could not be delivered: ${(err as Error)?.message ?? String(err)}`;
      markDead(j, e, reason);
      rejectedByBlueprint.push(reason);
    };
    jobs.forEach((job, j) => {
      const data = job.data;
      if (data.pending) {
        for (const p of data.pending) {
          try {
            add(j, p.e, [p.item]);
          } catch (err) {
            poisoned(j, p.e, err);
          }
        }
        return;
      }
      for (let e = 0; e < data.events.length; e++) {
        try {
          const mapped = compiled.map(data.events.at(e), ctx);
          if (mapped.rejected) {
            markDead(j, e, `rejected by the blueprint: ${mapped.rejected}`);
            rejectedByBlueprint.push(mapped.rejected);
          } else if (mapped.skipped) record.skipped++;
          add(j, e, mapped.items);
        } catch (err) {
          poisoned(j, e, err);
        }
      }
    });
    const batches = planner.finish();

    for (const b of batches) {
      b.entries.forEach((en, k) => {
        en.batch = b;
        en.k = k;
      });
    }

    const region = regionOf(integration.config);
    const baseUrl = this.deps.baseUrls[region];
    const host = new URL(baseUrl).host;
    const attemptOf = (entriesOfBatch: Entry[]) => jobs[entriesOfBatch[0].job].data.attempt + 1;
    let authFailed: string | undefined;
    let retryAfterMs: number | undefined;
    const outcomes = { ok: 0, transient: 0 };

    const send = async (endpoint: MixpanelEndpoint, batch: Entry[], body: Buffer): Promise<void> => {
      const res = await gate.run(() => this.deps.client.post(requestUrl(baseUrl, endpoint), body, endpoint === '/import' ? apiSecret : undefined));
      const outcome = classify(endpoint, res, batch.length);
      const log = {
        orgId: integration.orgId,
        integrationId: integration.id,
        endpoint,
        host,
        eventCount: batch.length,
        failedCount: 0,
        httpStatus: res.status || null,
        responseBody: res.body || null,
        error: res.error ?? null,
        attempt: attemptOf(batch),
        durationMs: res.durationMs,
      };
      this.deps.metrics.request(integration.id, endpoint, res.status, res.durationMs);
      if (outcome.kind === 'retry') outcomes.transient++;
      else if (outcome.kind !== 'auth') outcomes.ok++; // Mixpanel answered: it is up
      switch (outcome.kind) {
        case 'delivered':
          for (const en of batch) en.state = 'done';
          gate.succeeded();
          record.logs.push({ ...log, status: 'delivered' });
          return;
        case 'partial':
          batch.forEach((en, i) => {
            const why = outcome.failed.get(i);
            if (why) {
              en.state = 'dead';
              en.reason = `Mixpanel refused it: ${why}`;
              en.httpStatus = res.status;
            } else en.state = 'done';
          });
          record.logs.push({ ...log, status: 'partial', failedCount: outcome.failed.size });
          record.lastError = `${endpoint}: ${outcome.failed.size} of ${batch.length} refused`;
          return;
        case 'rejected':
          for (const en of batch) {
            en.state = 'dead';
            en.reason = `Mixpanel refused it: ${outcome.message}`;
            en.httpStatus = res.status;
          }
          record.logs.push({ ...log, status: 'rejected', failedCount: batch.length });
          record.lastError = `${endpoint} ${res.status}: ${outcome.message}`;
          return;
        case 'auth':
          for (const en of batch) {
            en.state = 'hold';
            en.reason = outcome.message;
            en.httpStatus = res.status;
          }
          authFailed = `Mixpanel answered ${res.status} (${outcome.message}): check the API secret`;
          record.logs.push({ ...log, status: 'auth_failed', failedCount: batch.length });
          record.lastError = authFailed;
          return;
        case 'split': {
          record.logs.push({ ...log, status: 'split' });
          const half = Math.ceil(batch.length / 2);
          const parts = [batch.slice(0, half), batch.slice(half)];
          await Promise.all(parts.map((p) => send(endpoint, p, subBody(p[0].batch!, p.map((en) => en.k!)))));
          return;
        }
        case 'retry':
          for (const en of batch) {
            en.state = 'retry';
            en.reason = outcome.message;
            en.httpStatus = res.status;
          }
          if (outcome.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, outcome.retryAfterMs);
          if (outcome.rateLimited) {
            gate.rateLimited(retryDelayMs(1, this.deps.config.retryBaseMs, this.deps.config.retryMaxMs, outcome.retryAfterMs));
          }
          record.logs.push({ ...log, status: 'retry', failedCount: batch.length });
          record.lastError = `${endpoint} ${res.status || 'no answer'}: ${outcome.message}`;
      }
    };

    await Promise.all(batches.map((b) => send(b.endpoint, b.entries, b.body)));

    const followUps = this.followUps(jobs, entries, retryAfterMs, holdTransientUntil);
    // A canonical event is delivered when every Mixpanel object made from it went through.
    const eventDone = new Map<string, boolean>();
    for (const en of entries) {
      const key = `${en.job}:${en.e}`;
      eventDone.set(key, (eventDone.get(key) ?? true) && en.state === 'done');
      if (en.state === 'done') record.delivered[KIND[en.endpoint]]++;
      else if (en.state === 'dead') {
        record.failed++;
        markDead(en.job, en.e, en.reason ?? 'refused');
      }
    }
    for (const done of eventDone.values()) if (done) record.eventsDelivered++;
    for (const d of dead.values()) {
      const job = jobs[d.job].data;
      record.deadLetters.push({
        orgId: integration.orgId,
        integrationId: integration.id,
        event: readableEvent(job.events, d.e),
        reason: [...new Set(d.reasons)].join('; '),
        attempts: job.attempt + 1,
      });
    }

    const now = Date.now();
    for (const en of entries) if (en.state === 'done') this.deps.metrics.latency(now - jobs[en.job].data.acceptedAt);
    this.deps.metrics.outcome(integration.id, record);

    await this.commit(integration, jobs, record, followUps, authFailed);
    return {
      delivered: record.eventsDelivered,
      dead: record.deadLetters.length,
      retried: followUps.retried,
      held: followUps.held,
      authFailed,
      health: outcomes.ok > 0 ? 'ok' : outcomes.transient > 0 ? 'transient' : 'other',
      lastError: record.lastError,
      failures: failuresOf(entries, rejectedByBlueprint),
    };
  }

  /** Jobs to queue for items that must be sent again (retry with back-off) or wait (held). */
  private followUps(
    jobs: PgBoss.Job<FetchedJob>[],
    entries: Entry[],
    retryAfterMs: number | undefined,
    holdTransientUntil: Date | undefined,
  ) {
    const cfg = this.deps.config;
    const now = Date.now();
    const out: { data: DeliveryJob; startAfter?: Date }[] = [];
    let retried = 0;
    let held = 0;
    jobs.forEach((job, j) => {
      const mine = entries.filter((en) => en.job === j);
      const retry = mine.filter((en) => en.state === 'retry');
      const hold = mine.filter((en) => en.state === 'hold');
      if (retry.length > 0) {
        // While the breaker is open (Mixpanel failing for everyone), a failed probe spends no attempt.
        const attempts = holdTransientUntil ? job.data.attempt : job.data.attempt + 1;
        const lastError = retry[0].reason ?? 'no answer';
        const expired = now - job.data.acceptedAt >= cfg.maxAgeMs;
        if (expired || attempts >= cfg.maxAttempts) {
          for (const en of retry) {
            en.state = 'dead';
            en.reason = expired ? outlived(cfg.maxAgeMs, lastError) : `gave up after ${attempts} attempt(s): ${lastError}`;
          }
        } else {
          const startAfter = holdTransientUntil ?? new Date(now + nextAttemptDelayMs(attempts, job.data.acceptedAt, now, cfg, retryAfterMs));
          for (const en of retry) en.retryAt = startAfter;
          out.push({ data: this.carry(job.data, retry, attempts, lastError), startAfter });
          retried += retry.length;
        }
      }
      if (hold.length > 0) {
        out.push({ data: this.carry(job.data, hold, job.data.attempt, 'held: Mixpanel refused the credentials'), startAfter: new Date(now + cfg.holdMs) });
        held += hold.length;
      }
    });
    return { jobs: out, retried, held };
  }

  /** A new job holding just these items and the events they came from (re-indexed). */
  private carry(job: FetchedJob, items: Entry[], attempt: number, lastError: string): DeliveryJob {
    const index = new Map<number, number>();
    const events = [];
    const pending: PendingItem[] = [];
    for (const en of items) {
      let e = index.get(en.e);
      if (e === undefined) {
        e = events.length;
        index.set(en.e, e);
        events.push(job.events.stored(en.e));
      }
      pending.push({ e, item: itemOf(en) });
    }
    return { orgId: job.orgId, integrationId: job.integrationId, events, pending, attempt, acceptedAt: job.acceptedAt, lastError };
  }

  /** Dead-letters every event of a job that makes delivery fail, with the reason, and completes it. */
  async quarantine(integration: IntegrationRecord, job: PgBoss.Job<FetchedJob>, reason: string): Promise<void> {
    const record: BatchRecord = {
      ...emptyRecord(),
      deadLetters: Array.from({ length: Math.max(1, job.data.events.length) }, (_, e) => ({
        orgId: integration.orgId,
        integrationId: integration.id,
        event: readableEvent(job.data.events, e),
        reason,
        attempts: job.data.attempt + 1,
      })),
      lastError: reason,
    };
    await pgTransaction(this.deps.pool, async (client, db) => {
      await this.deps.store.record(client, integration.id, integration.orgId, record);
      await this.deps.queue.complete(integration.id, [job.id], db);
    });
  }

  /** Puts fetched jobs back untouched (the integration is disabled or its credentials are refused). */
  /**
   * Puts fetched jobs back untouched, spending no attempt: the integration is disabled or its
   * credentials are refused (they wait for as long as it takes, until the hold time has passed), or its
   * circuit breaker is open (`probe`: until the next probe, and jobs older than the delivery window are
   * dead-lettered instead, with the error that kept them from Mixpanel).
   */
  async hold(integrationId: string, jobs: PgBoss.Job<FetchedJob>[], probe?: { at: Date; error: string }): Promise<void> {
    const now = Date.now();
    const startAfter = probe?.at ?? new Date(now + this.deps.config.holdMs);
    const expired = probe ? jobs.filter((j) => now - j.data.acceptedAt >= this.deps.config.maxAgeMs) : [];
    const kept = jobs.filter((j) => !expired.includes(j));
    await pgTransaction(this.deps.pool, async (client, db) => {
      const live = await this.stillLive(integrationId, db);
      if (live && kept.length > 0) await this.deps.queue.enqueue(kept.map((j) => ({ data: toDeliveryJob(j.data), startAfter })), db);
      if (live && expired.length > 0) {
        const { orgId } = expired[0].data;
        const reason = outlived(this.deps.config.maxAgeMs, expired[0].data.lastError ?? probe!.error);
        const deadLetters = expired.flatMap((j) =>
          Array.from({ length: j.data.events.length }, (_, e) => ({ orgId, integrationId, event: readableEvent(j.data.events, e), reason, attempts: j.data.attempt })),
        );
        await this.deps.store.record(client, integrationId, orgId, { ...emptyRecord(), deadLetters, lastError: reason });
      }
      await this.deps.queue.complete(integrationId, jobs.map((j) => j.id), db);
    });
  }

  /** Holds the queue's commit lock for the transaction, then says whether follow-ups may be queued. */
  private async stillLive(integrationId: string, db: QueueDb): Promise<boolean> {
    await this.deps.queue.lockForCommit([integrationId], db);
    return (await this.deps.integrations.liveIds(db, [integrationId])).has(integrationId);
  }

  private async commit(
    integration: IntegrationRecord,
    jobs: PgBoss.Job<FetchedJob>[],
    record: BatchRecord,
    followUps: { jobs: { data: DeliveryJob; startAfter?: Date }[] },
    authFailed: string | undefined,
  ): Promise<void> {
    await pgTransaction(this.deps.pool, async (client, db) => {
      await this.deps.store.record(client, integration.id, integration.orgId, record);
      if (authFailed) await this.deps.integrations.markAuthFailed(client, integration.id, authFailed);
      if (await this.stillLive(integration.id, db)) await this.deps.queue.enqueue(followUps.jobs, db);
      await this.deps.queue.complete(integration.id, jobs.map((j) => j.id), db);
    });
  }
}
