import PgBoss from 'pg-boss';
import type { Knex } from 'knex';
import type { DeliveryJob } from './delivery-job.js';

export interface QueueDb {
  executeSql(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

export interface QueueCounts {
  queuedJobs: number;
  queuedEvents: number;
  inFlightJobs: number;
  inFlightEvents: number;
}

/**
 * The delivery queue on pg-boss: one queue (`delivery-{integration_id}`) per integration. pg-boss's own
 * retry is used only to recover jobs of a worker that died (they expire and come back); delivery
 * retries are scheduled by the worker itself as new jobs, so it controls back-off and Retry-After.
 */
export class DeliveryQueue {
  private readonly ensured = new Set<string>();

  constructor(
    readonly boss: PgBoss,
    private readonly knex: Knex,
    private readonly expireInSeconds: number,
  ) {}

  static async start(connectionString: string, knex: Knex, expireInSeconds: number, maintenanceSeconds = 30): Promise<DeliveryQueue> {
    const boss = new PgBoss({
      connectionString,
      max: 4,
      schedule: false,
      supervise: true,
      maintenanceIntervalSeconds: maintenanceSeconds,
      monitorStateIntervalSeconds: Math.max(maintenanceSeconds, 10),
      archiveCompletedAfterSeconds: 3600,
      deleteAfterDays: 1,
    });
    boss.on('error', () => {});
    await boss.start();
    return new DeliveryQueue(boss, knex, expireInSeconds);
  }

  static queueName(integrationId: string): string {
    return `delivery-${integrationId}`;
  }

  async ensure(integrationId: string): Promise<void> {
    const name = DeliveryQueue.queueName(integrationId);
    if (this.ensured.has(name)) return;
    await this.boss.createQueue(name, { name, retryLimit: 1000, retryDelay: 1, expireInSeconds: this.expireInSeconds });
    this.ensured.add(name);
  }

  /** Inserts all jobs in one statement (atomic), optionally inside the caller's transaction. */
  async enqueue(jobs: { data: DeliveryJob; startAfter?: Date }[], db?: QueueDb): Promise<void> {
    if (jobs.length === 0) return;
    const rows = jobs.map((j) => ({
      name: DeliveryQueue.queueName(j.data.integrationId),
      data: j.data,
      retryLimit: 1000,
      retryDelay: 1,
      expireInSeconds: this.expireInSeconds,
      ...(j.startAfter ? { startAfter: j.startAfter } : {}),
    }));
    for (const j of jobs) await this.ensure(j.data.integrationId);
    try {
      await this.boss.insert(rows, db ? { db } : {});
    } catch (err) {
      // A queue this process believed in was dropped by another (integration deleted). Inside a
      // transaction the caller must roll back; outside one, look again and retry once.
      this.ensured.clear();
      if (db) throw err;
      for (const j of jobs) await this.ensure(j.data.integrationId);
      await this.boss.insert(rows);
    }
  }

  async fetch(integrationId: string, batchSize: number): Promise<PgBoss.Job<DeliveryJob>[]> {
    await this.ensure(integrationId);
    return (await this.boss.fetch<DeliveryJob>(DeliveryQueue.queueName(integrationId), { batchSize })) ?? [];
  }

  async complete(integrationId: string, ids: string[], db?: QueueDb): Promise<void> {
    if (ids.length > 0) await this.boss.complete(DeliveryQueue.queueName(integrationId), ids, db ? { db } : {});
  }

  /**
   * Drops the queue's jobs, active ones too (their worker's commit then completes nothing). The empty
   * pg-boss partition is left in place: dropping it would need an exclusive lock on the whole job
   * table and stall every other integration's delivery while it waits.
   */
  async drop(integrationId: string): Promise<void> {
    await this.knex.raw('DELETE FROM pgboss.job WHERE name = ?', [DeliveryQueue.queueName(integrationId)]);
  }

  async counts(integrationId: string): Promise<QueueCounts> {
    const rows = (
      await this.knex.raw(
        `SELECT state, count(*)::int AS jobs,
                coalesce(sum(CASE WHEN data->'pending' IS NOT NULL THEN jsonb_array_length(data->'pending') ELSE jsonb_array_length(data->'events') END), 0)::int AS events
           FROM pgboss.job WHERE name = ? AND state IN ('created', 'retry', 'active') GROUP BY state`,
        [DeliveryQueue.queueName(integrationId)],
      )
    ).rows as { state: string; jobs: number; events: number }[];
    const c: QueueCounts = { queuedJobs: 0, queuedEvents: 0, inFlightJobs: 0, inFlightEvents: 0 };
    for (const r of rows) {
      if (r.state === 'active') {
        c.inFlightJobs += r.jobs;
        c.inFlightEvents += r.events;
      } else {
        c.queuedJobs += r.jobs;
        c.queuedEvents += r.events;
      }
    }
    return c;
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, timeout: 10_000 });
  }
}
