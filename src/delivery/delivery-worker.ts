import { setTimeout as sleep } from 'node:timers/promises';
import type { DeliveryConfig } from '../config.js';
import type { BlueprintCache, CompiledBlueprint } from '../blueprints/engine.js';
import { importAuthOf, type DeliveryIntegration } from '../integrations/integration.js';
import type { IntegrationService } from '../integrations/integration-service.js';
import type { Logger } from '../logger.js';
import type { BatchProcessor } from './batch-processor.js';
import type { DeliveryQueue, QueuedJob } from './delivery-queue.js';
import { WorkSignal, type JobNotifications } from './job-notifications.js';
import type { DeliveryStore } from './delivery-store.js';
import type { DeliveryMetrics } from './metrics.js';
import { FailureLog } from './failure-log.js';
import type { DatabaseOutageLog } from '../shared/database-outage-log.js';
import { Gate } from './gate.js';
import { Breaker } from './breaker.js';
import { isInfrastructureError } from '../shared/infrastructure-errors.js';

type FetchedJobs = QueuedJob[];

export interface WorkerDeps {
  queue: DeliveryQueue;
  processor: BatchProcessor;
  integrations: IntegrationService;
  /** Compiled blueprints, by revision (shared with the API's preview in the same process). */
  blueprints: BlueprintCache;
  store: DeliveryStore;
  config: DeliveryConfig;
  logger: Logger;
  /** This process's (or thread's) database errors, written once per outage rather than per failure. */
  databaseLog: DatabaseOutageLog;
  notifications: JobNotifications;
  metrics: DeliveryMetrics;
}

/** What a worker keeps per integration, only while the integration has traffic. */
interface IntegrationState {
  gate: Gate;
  breaker: Breaker;
  /** The decrypted /import secret of a field, valid while the integration row is unchanged (a new secret updates it). */
  secret?: { updatedAt: number; field: string; value: string };
  /** The blueprint of the latest revision delivered with, compiled: the lookups skip reading it again. */
  blueprint?: { revision: number; compiled: CompiledBlueprint };
  lastSeen: number;
}

/**
 * The /import secret the worker holds for the integration, if it is still the current one (a new secret
 * changes the row) of the field its config authenticates with now (the API secret or a service account's).
 */
function currentSecret(state: IntegrationState | undefined, integration: DeliveryIntegration): string | undefined {
  const held = state?.secret;
  return held?.updatedAt === integration.updatedAt.getTime() && held.field === importAuthOf(integration.config).secretField ? held.value : undefined;
}

function heldSecret(integration: DeliveryIntegration, value: string): NonNullable<IntegrationState['secret']> {
  return { updatedAt: integration.updatedAt.getTime(), field: importAuthOf(integration.config).secretField, value };
}

/** An integration's state is forgotten after this long without traffic (unless its breaker is open). */
const IDLE_STATE_MS = 10 * 60_000;
/** Jobs this close to pg-boss's retention are dead-lettered, so many per transaction (see deadLetterBeforeRetention). */
const RETENTION_MARGIN_SECONDS = 86_400;
const RETENTION_JOBS_PER_TRANSACTION = 1000;
const HOUSEKEEPING_MS = 1000;

/**
 * Delivers the jobs of every integration from the one shared queue. A fixed number of fetch loops
 * (`fetchLoops`) take due jobs of any integrations, at most `jobsPerIntegration` of one integration
 * active at once across all workers (pg-boss's group concurrency), and hand each integration's jobs
 * to the batch processor, up to `jobsInFlight` jobs at once. An idle worker waits for a notification
 * from a commit that queued due jobs, or the sweep (`sweepMs`) for delayed retries and expired jobs:
 * an installed integration that receives nothing costs nothing, and no integration's backlog holds up
 * another's jobs. Gates, breakers and secrets are kept per integration while it has traffic.
 */
export class DeliveryWorker {
  private running = false;
  private readonly signal = new WorkSignal();
  private loops: Promise<void>[] = [];
  private readonly batches = new Set<Promise<void>>();
  private inFlight = 0;
  private readonly states = new Map<string, IntegrationState>();
  /**
   * Integrations whose jobs wait (disabled, or credentials refused): their jobs are put back once and
   * then left alone (not fetched) until the integration can deliver again, which housekeeping checks.
   */
  private readonly held = new Set<string>();
  private housekeeper?: NodeJS.Timeout;
  private wakeTimer?: { at: number; timer: NodeJS.Timeout };
  /** When retries this worker queued are due (ms, rounded up to 20 ms). */
  private readonly retriesDue = new Set<number>();
  private lastPrune = 0;
  private readonly failureLog: FailureLog;

  constructor(private readonly deps: WorkerDeps) {
    this.failureLog = new FailureLog(deps.logger);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.deps.notifications.start(() => this.signal.wake());
    for (let i = 0; i < this.deps.config.fetchLoops; i++) this.loops.push(this.fetchLoop());
    let busy = false;
    this.housekeeper = setInterval(() => {
      if (busy) return;
      busy = true;
      void this.housekeeping().finally(() => (busy = false));
    }, HOUSEKEEPING_MS);
  }

  /**
   * Flushes repeated failure lines, lets held integrations go on once they can deliver again, forgets
   * integrations idle for a while, prunes old delivery logs hourly.
   */
  private async housekeeping(): Promise<void> {
    this.failureLog.flush();
    if (this.held.size > 0) {
      try {
        const { deliverable, gone } = await this.deps.integrations.deliverableOrGone([...this.held]);
        for (const id of gone) this.held.delete(id);
        for (const id of deliverable) {
          this.held.delete(id);
          const jobs = await this.deps.queue.wake(id); // its held jobs are due now, and the loops are told
          this.deps.logger.info({ integration_id: id, jobs }, 'delivery resumed: the integration is enabled and its credentials may be tried again; its held events are due now');
        }
      } catch (err) {
        this.deps.databaseLog.error(err, 'delivery: could not look at held integrations');
      }
    }
    const idleSince = Date.now() - IDLE_STATE_MS;
    for (const [id, state] of this.states) {
      if (state.lastSeen <= idleSince && !state.breaker.open) this.states.delete(id);
    }
    if (Date.now() - this.lastPrune > 3600_000) {
      this.lastPrune = Date.now();
      await this.deps.store.pruneLogs(this.deps.config.logRetentionHours).catch((err) => this.deps.databaseLog.error(err, 'delivery: could not prune logs'));
      await this.deadLetterBeforeRetention().catch((err) => this.deps.databaseLog.error(err, 'delivery: could not dead-letter jobs near the end of their retention'));
    }
  }

  /**
   * Jobs that have waited almost JOB_RETENTION_SECONDS (held: their integration disabled, or its
   * credentials refused, all that time) go to dead letters with the reason, a thousand per transaction,
   * before pg-boss's retention would delete them without a word. Looked at hourly, a day ahead.
   */
  private async deadLetterBeforeRetention(): Promise<void> {
    for (;;) {
      const { jobs, byIntegration } = await this.deps.processor.deadLetterBeforeRetention(RETENTION_MARGIN_SECONDS, RETENTION_JOBS_PER_TRANSACTION);
      for (const [integrationId, { orgId, events, since }] of byIntegration) {
        this.deps.logger.warn(
          { integration_id: integrationId, org_id: orgId, events, waiting_since: new Date(since).toISOString() },
          `delivery gave up waiting: ${events} event(s) held since ${new Date(since).toISOString()} (the integration disabled, or its credentials refused) were dead-lettered before the queue's retention would drop them; replay them once it can deliver`,
        );
      }
      if (jobs < RETENTION_JOBS_PER_TRANSACTION) return;
    }
  }

  private async fetchLoop(): Promise<void> {
    const { queue, config, databaseLog } = this.deps;
    while (this.running) {
      const room = config.jobsInFlight - this.inFlight;
      if (room <= 0) {
        await this.signal.wait(config.sweepMs);
        continue;
      }
      let jobs: FetchedJobs;
      const wanted = Math.min(room, config.jobsPerFetch);
      const fetchStarted = Date.now();
      try {
        jobs = await queue.fetch(wanted, config.jobsPerIntegration, [...this.held]);
        databaseLog.ok();
      } catch (err) {
        databaseLog.error(err, 'delivery: could not fetch jobs');
        await this.signal.wait(Math.max(config.sweepMs, 1000));
        continue;
      }
      if (jobs.length === 0) {
        await this.waitToFetch(fetchStarted);
        continue;
      }
      const full = jobs.length === wanted;
      if (full) this.signal.wake(); // more may be due: another loop fetches meanwhile
      const fetchedAt = Date.now();
      for (const job of jobs) if (job.dueAt !== undefined) this.deps.metrics.delayedJobStarted(fetchedAt - job.dueAt);
      const byIntegration = Map.groupBy(jobs, (job) => job.data.integrationId);
      // The fetched integrations are looked up once for all their batches (each batch awaits the answer,
      // so a failed lookup fails its batches as a failed lookup of their own would), and the secrets this
      // worker has not opened yet are read together.
      const found = this.deps.integrations
        .findEach([...byIntegration].map(([id, ofOne]) => ({ id, orgId: ofOne[0].data.orgId, heldRevision: this.states.get(id)?.blueprint?.revision })))
        .then(async (integrations) => {
          await this.openSecrets([...integrations.values()]);
          return integrations;
        });
      found.catch(() => {}); // each batch handles it
      // An integration's jobs go in batches of a few, side by side: one batch maps while another sends.
      for (const [id, ofOne] of byIntegration) {
        for (let i = 0; i < ofOne.length; i += config.jobsPerBatch) this.dispatch(id, ofOne[0].data.orgId, ofOne.slice(i, i + config.jobsPerBatch), found);
      }
      // A fetch short of what it asked for took every job due: fetching again at once would come back
      // empty (at a full fetch's cost). What can make more due wakes a loop: a commit's notification, a
      // batch finishing (room, and its integration's slots), a retry's time, the sweep (see waitToFetch).
      if (!full) await this.waitToFetch(fetchStarted);
    }
  }

  /**
   * After a fetch that took every due job (an empty one too): waits for a reason to fetch again (see
   * WorkSignal), and until `fetchGapMs` from that fetch's start. With many orgs posting, each commit and
   * each batch finishing would otherwise cost a fetch of its own, half of them empty; the jobs queued
   * meanwhile share one.
   */
  private async waitToFetch(lastFetchStarted: number): Promise<void> {
    await this.signal.wait(this.deps.config.sweepMs);
    const gap = lastFetchStarted + this.deps.config.fetchGapMs - Date.now();
    if (gap > 0 && this.running) await sleep(gap);
  }

  /**
   * Wakes a fetch loop when each retry this worker queued is due: one timer, for the earliest time
   * still ahead; when it fires the next one is set (times within 20 ms of each other share a wake).
   */
  private wakeAt(times: Date[]): void {
    // Bounded: past a thousand distinct times (a long outage), the sweep finds the rest.
    for (const at of times) if (this.retriesDue.size < 1000) this.retriesDue.add(Math.ceil(at.getTime() / 20) * 20);
    this.armWakeTimer();
  }

  private armWakeTimer(): void {
    if (this.retriesDue.size === 0 || !this.running) return;
    const next = Math.min(...this.retriesDue);
    if (this.wakeTimer?.at === next) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer.timer);
    const timer = setTimeout(() => {
      this.wakeTimer = undefined;
      const now = Date.now();
      for (const at of this.retriesDue) if (at <= now) this.retriesDue.delete(at);
      this.signal.wake();
      this.armWakeTimer();
    }, Math.max(0, next - Date.now()));
    timer.unref();
    this.wakeTimer = { at: next, timer };
  }

  /** Delivers one integration's jobs without holding up the fetch loop; the room they free wakes the loops. */
  private dispatch(id: string, orgId: string, jobs: FetchedJobs, found: Promise<Map<string, DeliveryIntegration>>): void {
    this.inFlight += jobs.length;
    this.state(id).lastSeen = Date.now();
    const batch = this.run(id, orgId, jobs, found).finally(() => {
      this.inFlight -= jobs.length;
      this.batches.delete(batch);
      this.signal.wake();
    });
    this.batches.add(batch);
  }

  private state(id: string): IntegrationState {
    let state = this.states.get(id);
    if (!state) {
      const { concurrency, breakerThreshold, breakerProbeMs } = this.deps.config;
      state = { gate: new Gate(concurrency), breaker: new Breaker(breakerThreshold, breakerProbeMs), lastSeen: Date.now() };
      this.states.set(id, state);
    }
    return state;
  }

  /**
   * Shows the breaker's state on the integration (degraded since, last error) and in the log. Once it
   * closes, the jobs held for the next probe are due at once: the backlog drains at full speed.
   */
  private async breakerChanged(integration: DeliveryIntegration, change: 'opened' | 'closed' | undefined, lastError: string | undefined, breaker: Breaker) {
    const { integrations, queue, logger } = this.deps;
    const log = { integration_id: integration.id, org_id: integration.orgId };
    if (change === 'opened') {
      const reason = lastError ?? 'Mixpanel is not answering';
      await integrations.setDegraded(integration.id, { since: breaker.since!, reason });
      logger.error({ ...log, reason, probe_ms: this.deps.config.breakerProbeMs }, `delivery degraded: Mixpanel keeps failing (${reason}); events are held without spending attempts, one batch probes every ${this.deps.config.breakerProbeMs} ms`);
    } else if (change === 'closed') {
      await integrations.setDegraded(integration.id, null);
      const woken = await queue.wake(integration.id);
      logger.info({ ...log, jobs: woken }, 'delivery recovered: Mixpanel answers again; draining the held events');
    }
  }

  /**
   * Opens in one query the secrets of fetched integrations this worker holds none (or an outdated one)
   * of: an org's first traffic costs one query per fetch, not one per integration. One alone, or a
   * failure, is left to secretFor, which reports it on that integration's batch.
   */
  private async openSecrets(integrations: DeliveryIntegration[]): Promise<void> {
    const missing = integrations.filter((i) => currentSecret(this.states.get(i.id), i) === undefined);
    if (missing.length < 2) return;
    const opened = await this.deps.integrations.importSecrets(missing).catch(() => new Map<string, string>());
    for (const i of missing) {
      const value = opened.get(i.id);
      const state = this.states.get(i.id);
      if (value !== undefined && state) state.secret = heldSecret(i, value);
    }
  }

  private async secretFor(integration: DeliveryIntegration, state: IntegrationState): Promise<string> {
    const held = currentSecret(state, integration);
    if (held !== undefined) return held;
    const value = await this.deps.integrations.importSecret(integration);
    state.secret = heldSecret(integration, value);
    return value;
  }

  /**
   * The integration's blueprint, compiled: the one this worker holds when it is of the current revision
   * (the lookup then left the document out), else from the lookup or, when another batch moved the held
   * one to a different revision meanwhile, read alone.
   */
  private async blueprintFor(integration: DeliveryIntegration, state: IntegrationState): Promise<CompiledBlueprint> {
    const { id, orgId, revision } = integration;
    if (state.blueprint?.revision === revision) return state.blueprint.compiled;
    const doc = integration.blueprint ?? (await this.deps.integrations.blueprintAt(orgId, id, revision));
    if (!doc) throw new Error(`revision ${revision} of integration ${id} has no blueprint`);
    const compiled = this.deps.blueprints.get(`${id}:${revision}`, doc);
    if (!state.blueprint || state.blueprint.revision < revision) state.blueprint = { revision, compiled };
    return compiled;
  }

  private async run(id: string, orgId: string, jobs: FetchedJobs, found: Promise<Map<string, DeliveryIntegration>>): Promise<void> {
    try {
      await this.deliver(id, orgId, jobs, found);
    } catch (err) {
      if (!isInfrastructureError(err)) {
        await this.isolate(id, orgId, jobs, err);
        return;
      }
      this.deps.logger.error({ err, integration_id: id }, 'delivery batch failed; its jobs will come back when they expire');
    }
  }

  /** `found`: the integration as the fetch looked it up; without it (a job tried alone), it is looked up again. */
  private async deliver(id: string, orgId: string, jobs: FetchedJobs, found?: Promise<Map<string, DeliveryIntegration>>): Promise<void> {
    const { queue, processor, integrations, logger } = this.deps;
    const integration = found ? (await found).get(id) : await integrations.find(orgId, id);
    if (!integration) {
      await queue.complete(jobs.map((j) => j.id));
      return;
    }
    if (!integration.enabled || integration.status !== 'active') {
      this.held.add(id);
      await processor.hold(id, jobs);
      return;
    }
    const state = this.state(id);
    const breaker = state.breaker;
    if (!breaker.allow()) {
      // Mixpanel is failing for this integration: wait for the next probe, spending no attempt (and
      // be fetched at its time, like a retry, not at the next sweep).
      const probeAt = breaker.probeAt;
      await processor.hold(id, jobs, { at: probeAt, error: integration.degradedReason ?? 'Mixpanel is failing' });
      this.wakeAt([probeAt]);
      return;
    }
    const probeHold = breaker.open ? breaker.probeAt : undefined;
    const summary = await processor.process(integration, await this.blueprintFor(integration, state), await this.secretFor(integration, state), state.gate, jobs, probeHold);
    this.failureLog.report(integration, summary.failures);
    if (summary.retriesDue.length > 0) this.wakeAt(summary.retriesDue);
    await this.breakerChanged(integration, breaker.record(summary.health), summary.lastError, breaker);
    if (summary.authFailed) {
      this.held.add(id);
      logger.warn({ integration_id: id }, `delivery held: ${summary.authFailed}`);
    }
  }

  /**
   * A batch that failed for a reason of its own (not the database or the network): each job is tried
   * alone, and one that still fails is dead-lettered whole with the reason, so it cannot come back
   * again and again and hold up the jobs queued after it.
   */
  private async isolate(id: string, orgId: string, jobs: FetchedJobs, err: unknown): Promise<void> {
    const { processor, integrations, logger } = this.deps;
    for (const job of jobs) {
      let failure = err;
      if (jobs.length > 1) {
        try {
          await this.deliver(id, orgId, [job]);
          continue;
        } catch (alone) {
          failure = alone;
        }
      }
      try {
        if (isInfrastructureError(failure)) throw failure;
        const integration = await integrations.find(orgId, id);
        if (integration) await processor.quarantine(integration, job, `delivery of its job failed: ${(failure as Error)?.message ?? String(failure)}`);
        logger.error({ err: failure, integration_id: id, org_id: orgId, job_id: job.id }, 'delivery failed: a job that makes delivery fail was dead-lettered');
      } catch (again) {
        logger.error({ err: again, integration_id: id, job_id: job.id }, 'delivery batch failed; its jobs will come back when they expire');
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.housekeeper);
    if (this.wakeTimer) clearTimeout(this.wakeTimer.timer);
    this.signal.wakeAll();
    await Promise.all(this.loops);
    this.loops = [];
    await Promise.all([...this.batches]);
    await this.deps.notifications.stop();
    this.failureLog.flush(Number.POSITIVE_INFINITY);
  }
}
