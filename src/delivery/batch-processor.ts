import type { Knex } from 'knex';
import type { CompiledBlueprint } from '../blueprints/engine.js';
import type { MixpanelEndpoint, MixpanelItem } from '../destinations/mixpanel/wire.js';
import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import type { DeliveryConfig } from '../config.js';
import type { MixpanelClient } from '../destinations/mixpanel/client.js';
import { classify } from '../destinations/mixpanel/outcome.js';
import { BatchPlanner, requestUrl, subBody, type MixpanelRegion, type PlannedBatch } from '../destinations/mixpanel/requests.js';
import { basicCredential, importAuthOf, regionOf, type DeliveryIntegration } from '../integrations/integration.js';
import type { IntegrationStore } from '../integrations/integration-store.js';
import { retryDelayMs } from './backoff.js';
import { outlived, settle, type DeliveryFailure, type ItemState, type SettledItem, type SettleInput } from './settle.js';
import type { BatchHealth } from './breaker.js';
import { toDeliveryJob, type FetchedJob } from './delivery-job.js';
import { JOB_RETENTION_SECONDS, type DeliveryQueue, type JobToQueue, type QueueDb, type QueuedJob } from './delivery-queue.js';
import type { BatchRecord, DeliveryStore } from './delivery-store.js';
import type { Gate } from './gate.js';
import { inTransaction } from '../db-transaction.js';
import { GroupCommit } from '../shared/group-commit.js';
import { isDatabaseUnavailable } from '../shared/infrastructure-errors.js';
import type { DeliveryMetrics } from './metrics.js';

/** One Mixpanel item being delivered; its bytes live in its planned batch's body. */
interface Entry extends Omit<SettledItem, 'state'> {
  state: ItemState | 'pending';
  batch?: PlannedBatch<Entry>;
  /** Its position in the batch. */
  k?: number;
}

/** The Mixpanel item of an entry, read back from its batch's body (for retries only). */
function itemOf(en: Entry): MixpanelItem {
  const { batch, k } = en as Required<Entry>;
  return { endpoint: en.endpoint, body: batch.items.parse(k) as MixpanelItem['body'] };
}

export interface ProcessorDeps {
  knex: Knex;
  /** The integrations table's owner, for marking credentials refused. */
  integrations: Pick<IntegrationStore, 'markAuthFailed' | 'liveIds'>;
  queue: DeliveryQueue;
  store: DeliveryStore;
  client: MixpanelClient;
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
  /** When the retries this batch queued are due (the worker wakes then, not at its next sweep). */
  retriesDue: Date[];
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

/** A dead letter for every event of a job (at least one, noting why, when its events cannot be read). */
function jobDeadLetters(job: FetchedJob, reason: string, attempts: number): BatchRecord['deadLetters'] {
  return Array.from({ length: Math.max(1, job.events.length) }, (_, e) => ({
    orgId: job.orgId,
    integrationId: job.integrationId,
    event: readableEvent(job.events, e),
    reason,
    attempts,
  }));
}

/** A delivered batch waiting for its commit. */
interface BatchCommit {
  integration: DeliveryIntegration;
  jobs: QueuedJob[];
  record: BatchRecord;
  followUps: JobToQueue[];
  authFailed: string | undefined;
}

function emptyRecord(): BatchRecord {
  return { logs: [], deadLetters: [], delivered: { events: 0, profileUpdates: 0, groupUpdates: 0 }, eventsDelivered: 0, failed: 0, skipped: 0, skippedNoConsent: 0 };
}

/** What dead-lettering events without sending anything comes to. */
function deadLettersRecord(deadLetters: BatchRecord['deadLetters'], reason: string): BatchRecord {
  return { ...emptyRecord(), deadLetters, lastError: reason };
}

/**
 * Delivers the jobs fetched for one integration: maps new events with the current blueprint, cuts the
 * Mixpanel items into requests, sends them through the integration's gate, settles every item by what
 * Mixpanel answered (settle.ts), then in one transaction (shared with other batches finishing at the
 * same time, of any integrations) writes logs, dead letters and counters, queues the follow-ups and
 * completes (deletes) the jobs. A crash before that commit leaves the jobs to expire and come back;
 * resent events carry the same $insert_id and time, so Mixpanel keeps one copy.
 */
export class BatchProcessor {
  /** Batches finishing together commit together (see GroupCommit). */
  private readonly commits: GroupCommit<BatchCommit>;

  constructor(private readonly deps: ProcessorDeps) {
    this.commits = new GroupCommit((done) => this.commitAll(done), {
      concurrency: deps.config.commitsInFlight,
      maxItems: deps.config.batchesPerCommit,
      alone: (err) => !isDatabaseUnavailable(err),
    });
  }

  /**
   * `holdTransientUntil`: the integration's circuit breaker is open and this batch is its probe; items
   * that fail transiently again wait until then without spending an attempt. `blueprint`: the
   * integration's current revision's, compiled.
   */
  async process(
    integration: DeliveryIntegration,
    blueprint: CompiledBlueprint,
    /** The decrypted /import secret of the integration's config (see importAuthOf). */
    importSecret: string,
    gate: Gate,
    jobs: QueuedJob[],
    holdTransientUntil?: Date,
  ): Promise<BatchSummary> {
    const planner = new BatchPlanner<Entry>();
    try {
      return await this.deliver(planner, integration, blueprint, importSecret, gate, jobs, holdTransientUntil);
    } finally {
      planner.release(); // nothing reads the request bodies any more
    }
  }

  private async deliver(
    planner: BatchPlanner<Entry>,
    integration: DeliveryIntegration,
    compiled: CompiledBlueprint,
    importSecret: string,
    gate: Gate,
    jobs: QueuedJob[],
    holdTransientUntil: Date | undefined,
  ): Promise<BatchSummary> {
    const record = emptyRecord();
    const entries: Entry[] = [];
    const refused: SettleInput['refused'] = [];

    const ctx = { projectToken: integration.config.project_token };
    // Each event is parsed, mapped and serialised into its request body in turn, and then let go. One
    // that makes any of that throw is dead-lettered with the reason; its neighbours go on.
    const add = (job: number, event: number, items: MixpanelItem[]) => {
      const serialised = items.map((item) => JSON.stringify(item.body)); // all or none of an event's items
      items.forEach((item, i) => {
        const en: Entry = { job, event, endpoint: item.endpoint, state: 'pending' };
        entries.push(en);
        planner.addJson(en, item.endpoint, serialised[i]);
      });
    };
    const poisoned = (job: number, event: number, err: unknown) =>
      refused.push({ job, event, reason: `could not be delivered: ${(err as Error)?.message ?? String(err)}` });
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
          if (mapped.rejected) refused.push({ job: j, event: e, reason: `rejected by the blueprint: ${mapped.rejected}` });
          else if (mapped.skipped) {
            record.skipped++;
            if (mapped.noConsent) record.skippedNoConsent++;
          }
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
    const importAuth = importAuthOf(integration.config);
    const credential = basicCredential(importAuth, importSecret);
    const attemptOf = (entriesOfBatch: Entry[]) => jobs[entriesOfBatch[0].job].data.attempt + 1;
    let authFailed: string | undefined;
    let retryAfterMs: number | undefined;
    const outcomes = { ok: 0, transient: 0 };

    const send = async (endpoint: MixpanelEndpoint, batch: Entry[], body: Buffer): Promise<void> => {
      const res = await gate.run(() => this.deps.client.post(requestUrl(baseUrl, endpoint, importAuth.projectId), body, endpoint === '/import' ? credential : undefined));
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
          authFailed = `Mixpanel answered ${res.status} (${outcome.message}): check ${importAuth.user === undefined ? 'the API secret' : "the service account's username, secret and project ID"}`;
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

    const now = Date.now();
    const settled = settle({
      jobs: jobs.map((j) => j.data),
      items: entries as SettledItem[], // every entry was sent, so none is still pending
      refused,
      schedule: this.deps.config,
      now,
      retryAfterMs,
      holdTransientUntil,
      itemOf: (it) => itemOf(it as Entry),
      storedEvent: (j, e) => jobs[j].data.events.stored(e),
    });
    Object.assign(record, { delivered: settled.delivered, eventsDelivered: settled.eventsDelivered, failed: settled.failed });
    record.deadLetters = settled.deadLetters.map((d) => ({
      orgId: integration.orgId,
      integrationId: integration.id,
      event: readableEvent(jobs[d.job].data.events, d.event),
      reason: d.reason,
      attempts: d.attempts,
    }));

    for (const en of entries) if (en.state === 'done') this.deps.metrics.latency(now - jobs[en.job].data.acceptedAt);
    this.deps.metrics.outcome(integration.id, record);

    await this.commits.submit({ integration, jobs, record, followUps: settled.followUps, authFailed });
    return {
      delivered: record.eventsDelivered,
      dead: record.deadLetters.length,
      retried: settled.retried,
      held: settled.held,
      authFailed,
      health: outcomes.ok > 0 ? 'ok' : outcomes.transient > 0 ? 'transient' : 'other',
      lastError: record.lastError,
      failures: settled.failures,
      retriesDue: settled.followUps.flatMap((f) => (f.startAfter ? [f.startAfter] : [])),
    };
  }

  /** Dead-letters every event of a job that makes delivery fail, with the reason, and completes it. */
  async quarantine(integration: DeliveryIntegration, job: QueuedJob, reason: string): Promise<void> {
    const record = deadLettersRecord(jobDeadLetters(job.data, reason, job.data.attempt + 1), reason);
    await inTransaction(this.deps.knex, async (trx, db) => {
      await this.deps.store.record(trx, integration.id, integration.orgId, record);
      await this.deps.queue.complete([job.id], db);
    });
  }

  /**
   * Dead-letters, in one transaction, up to `limit` waiting jobs that pg-boss's retention would delete
   * within `withinSeconds` (see DeliveryQueue.nearRetention), with the reason: rather than lost without
   * a word, they can be replayed once their integration can deliver. Returns the events dead-lettered,
   * by integration (with its org), and how many jobs were taken.
   */
  async deadLetterBeforeRetention(withinSeconds: number, limit: number): Promise<{ jobs: number; byIntegration: Map<string, { orgId: string; events: number; since: number }> }> {
    const byIntegration = new Map<string, { orgId: string; events: number; since: number }>();
    let taken = 0;
    await inTransaction(this.deps.knex, async (trx, db) => {
      byIntegration.clear();
      const jobs = await this.deps.queue.nearRetention(db, withinSeconds, limit);
      taken = jobs.length;
      if (jobs.length === 0) return;
      const days = Math.round(JOB_RETENTION_SECONDS / 86_400);
      const reason = `waited ${days} days undelivered (the integration disabled, or its credentials refused, all that time): dead-lettered before the queue would drop it; replay it once the integration can deliver`;
      for (const [integrationId, ofOne] of Map.groupBy(jobs, (j) => j.data.integrationId)) {
        const deadLetters = ofOne.flatMap((j) => jobDeadLetters(j.data, j.data.lastError ? `${reason} (last error: ${j.data.lastError})` : reason, j.data.attempt));
        await this.deps.store.record(trx, integrationId, ofOne[0].data.orgId, deadLettersRecord(deadLetters, reason));
        byIntegration.set(integrationId, { orgId: ofOne[0].data.orgId, events: deadLetters.length, since: Math.min(...ofOne.map((j) => j.data.acceptedAt)) });
      }
      await this.deps.queue.complete(jobs.map((j) => j.id), db);
    });
    return { jobs: taken, byIntegration };
  }

  /**
   * Puts fetched jobs back untouched, spending no attempt: the integration is disabled or its
   * credentials are refused (they wait for as long as it takes, until the hold time has passed), or its
   * circuit breaker is open (`probe`: until the next probe, and jobs older than the delivery window are
   * dead-lettered instead, with the error that kept them from Mixpanel).
   */
  async hold(integrationId: string, jobs: QueuedJob[], probe?: { at: Date; error: string }): Promise<void> {
    const now = Date.now();
    const startAfter = probe?.at ?? new Date(now + this.deps.config.holdMs);
    const expired = probe ? jobs.filter((j) => now - j.data.acceptedAt >= this.deps.config.maxAgeMs) : [];
    const kept = jobs.filter((j) => !expired.includes(j));
    await inTransaction(this.deps.knex, async (trx, db) => {
      const live = await this.stillLive(integrationId, db);
      if (live && kept.length > 0) await this.deps.queue.enqueue(kept.map((j) => ({ data: toDeliveryJob(j.data), startAfter })), db);
      if (live && expired.length > 0) {
        const reason = outlived(this.deps.config.maxAgeMs, expired[0].data.lastError ?? probe!.error);
        const deadLetters = expired.flatMap((j) => jobDeadLetters(j.data, reason, j.data.attempt));
        await this.deps.store.record(trx, integrationId, expired[0].data.orgId, deadLettersRecord(deadLetters, reason));
      }
      await this.deps.queue.complete(jobs.map((j) => j.id), db);
    });
  }

  /** Holds the queue's commit lock for the transaction, then says whether follow-ups may be queued. */
  private async stillLive(integrationId: string, db: QueueDb): Promise<boolean> {
    return (await this.deps.queue.liveUnderLock([integrationId], db, this.deps.integrations)).has(integrationId);
  }

  /**
   * Commits several batches (of any integrations) in one transaction: their records in one write, the
   * credentials refused marked (row locks on integrations first, see lockForCommit), one commit gate
   * for all their integrations, the live ones' follow-ups in one insert, every job completed at once.
   */
  private async commitAll(done: BatchCommit[]): Promise<void> {
    await inTransaction(this.deps.knex, async (trx, db) => {
      await this.deps.store.recordAll(trx, done.map((d) => ({ integrationId: d.integration.id, orgId: d.integration.orgId, record: d.record })));
      for (const d of done) if (d.authFailed) await this.deps.integrations.markAuthFailed(trx, d.integration.id, d.authFailed);
      const withFollowUps = done.filter((d) => d.followUps.length > 0);
      if (withFollowUps.length > 0) {
        const live = await this.deps.queue.liveUnderLock([...new Set(withFollowUps.map((d) => d.integration.id))], db, this.deps.integrations);
        await this.deps.queue.enqueue(withFollowUps.filter((d) => live.has(d.integration.id)).flatMap((d) => d.followUps), db);
      }
      await this.deps.queue.complete(done.flatMap((d) => d.jobs.map((j) => j.id)), db);
    });
  }
}
