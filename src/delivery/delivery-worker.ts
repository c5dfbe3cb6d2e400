import type { DeliveryConfig } from '../config.js';
import type { IntegrationRecord } from '../integrations/integration.js';
import type { IntegrationService } from '../integrations/integration-service.js';
import type { Logger } from '../logger.js';
import type { BatchProcessor } from './batch-processor.js';
import type { DeliveryQueue } from './delivery-queue.js';
import type { DeliveryStore } from './delivery-store.js';
import { FailureLog } from './failure-log.js';
import { Gate } from './gate.js';
import { Breaker } from './breaker.js';
import { isInfrastructureError } from '../shared/infrastructure-errors.js';

type FetchedJobs = Awaited<ReturnType<DeliveryQueue['fetch']>>;

export interface WorkerDeps {
  queue: DeliveryQueue;
  processor: BatchProcessor;
  integrations: IntegrationService;
  store: DeliveryStore;
  config: DeliveryConfig;
  logger: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs delivery for every enabled integration whose credentials work. It looks at the integrations
 * table every few seconds, so an integration installed, disabled, re-enabled, deleted or given a new
 * secret through any API process is picked up by every worker process sharing the database.
 */
export class DeliveryWorker {
  private running = false;
  private readonly loops = new Map<string, { stop: boolean; done: Promise<void>[] }>();
  private readonly gates = new Map<string, Gate>();
  private readonly breakers = new Map<string, Breaker>();
  /** Decrypted secrets, valid while the integration row is unchanged (a new secret updates it). */
  private readonly secrets = new Map<string, { updatedAt: number; secret: string }>();
  private refresher?: Promise<void>;
  private lastPrune = 0;
  private readonly failureLog: FailureLog;

  constructor(private readonly deps: WorkerDeps) {
    this.failureLog = new FailureLog(deps.logger);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.refresher = this.refreshLoop();
  }

  private async refreshLoop(): Promise<void> {
    while (this.running) {
      try {
        await this.refresh();
        this.failureLog.flush();
        if (Date.now() - this.lastPrune > 3600_000) {
          this.lastPrune = Date.now();
          await this.deps.store.pruneLogs(this.deps.config.logRetentionHours);
        }
      } catch (err) {
        this.deps.logger.error({ err }, 'delivery: could not refresh integrations');
      }
      await sleep(this.deps.config.registryRefreshMs);
    }
  }

  /** Starts loops for deliverable integrations and stops loops of the others. */
  async refresh(): Promise<void> {
    const wanted = new Map((await this.deps.integrations.deliverable()).map((r) => [r.id, r.orgId]));
    for (const [id, loop] of this.loops) {
      if (!wanted.has(id)) {
        loop.stop = true;
        this.loops.delete(id);
        this.gates.delete(id);
        this.breakers.delete(id);
        this.secrets.delete(id);
      }
    }
    for (const [id, orgId] of wanted) {
      if (this.loops.has(id) || !this.running) continue;
      const loop = { stop: false, done: [] as Promise<void>[] };
      this.loops.set(id, loop);
      for (let i = 0; i < this.deps.config.loopsPerIntegration; i++) loop.done.push(this.run(id, orgId, loop));
    }
  }

  private breaker(id: string): Breaker {
    let b = this.breakers.get(id);
    if (!b) {
      b = new Breaker(this.deps.config.breakerThreshold, this.deps.config.breakerProbeMs);
      this.breakers.set(id, b);
    }
    return b;
  }

  /**
   * Shows the breaker's state on the integration (degraded since, last error) and in the log. Once it
   * closes, the jobs held for the next probe are due at once: the backlog drains at full speed.
   */
  private async breakerChanged(integration: IntegrationRecord, change: 'opened' | 'closed' | undefined, lastError: string | undefined, breaker: Breaker) {
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

  private gate(id: string): Gate {
    let g = this.gates.get(id);
    if (!g) {
      g = new Gate(this.deps.config.concurrency);
      this.gates.set(id, g);
    }
    return g;
  }

  private async secretFor(integration: IntegrationRecord): Promise<string> {
    const updatedAt = integration.updatedAt.getTime();
    const hit = this.secrets.get(integration.id);
    if (hit && hit.updatedAt === updatedAt) return hit.secret;
    const secret = await this.deps.integrations.apiSecret(integration.orgId, integration.id);
    this.secrets.set(integration.id, { updatedAt, secret });
    return secret;
  }

  private async run(id: string, orgId: string, loop: { stop: boolean }): Promise<void> {
    const { queue, config, logger } = this.deps;
    while (!loop.stop && this.running) {
      let jobs: FetchedJobs = [];
      try {
        jobs = await queue.fetch(id, config.jobsPerFetch);
        if (jobs.length === 0) {
          await sleep(config.pollMs);
          continue;
        }
        await this.deliver(id, orgId, jobs, loop);
      } catch (err) {
        if (jobs.length > 0 && !isInfrastructureError(err)) {
          await this.isolate(id, orgId, jobs, err, loop);
          continue;
        }
        logger.error({ err, integration_id: id }, 'delivery batch failed; its jobs will come back when they expire');
        await sleep(Math.max(config.pollMs, 1000));
      }
    }
  }

  private async deliver(id: string, orgId: string, jobs: FetchedJobs, loop: { stop: boolean }): Promise<void> {
    const { queue, processor, integrations, logger } = this.deps;
    const integration = await integrations.find(orgId, id);
    if (!integration) {
      await queue.complete(id, jobs.map((j) => j.id));
      return;
    }
    if (!integration.enabled || integration.status !== 'active') {
      await processor.hold(id, jobs);
      return;
    }
    const breaker = this.breaker(id);
    if (!breaker.allow()) {
      // Mixpanel is failing for this integration: wait for the next probe, spending no attempt.
      await processor.hold(id, jobs, { at: breaker.probeAt, error: integration.degradedReason ?? 'Mixpanel is failing' });
      return;
    }
    const probeHold = breaker.open ? breaker.probeAt : undefined;
    const summary = await processor.process(integration, await this.secretFor(integration), this.gate(id), jobs, probeHold);
    this.failureLog.report(integration, summary.failures);
    await this.breakerChanged(integration, breaker.record(summary.health), summary.lastError, breaker);
    if (summary.authFailed) {
      logger.warn({ integration_id: id }, `delivery held: ${summary.authFailed}`);
      loop.stop = true;
      this.loops.delete(id);
    }
  }

  /**
   * A batch that failed for a reason of its own (not the database or the network): each job is tried
   * alone, and one that still fails is dead-lettered whole with the reason, so it cannot come back
   * again and again and hold up the jobs queued after it.
   */
  private async isolate(id: string, orgId: string, jobs: FetchedJobs, err: unknown, loop: { stop: boolean }): Promise<void> {
    const { processor, integrations, logger } = this.deps;
    for (const job of jobs) {
      let failure = err;
      if (jobs.length > 1) {
        try {
          await this.deliver(id, orgId, [job], loop);
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
    const all = [...this.loops.values()];
    for (const l of all) l.stop = true;
    this.loops.clear();
    await Promise.all([this.refresher, ...all.flatMap((l) => l.done)]);
    this.failureLog.flush(Number.POSITIVE_INFINITY);
  }
}
