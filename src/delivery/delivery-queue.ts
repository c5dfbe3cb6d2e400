import { PgBoss, type Job } from 'pg-boss';
import pg from 'pg';
import { inTransaction, poolExecutor, type SqlExecutor } from '../db-transaction.js';
import type { Knex } from 'knex';
import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import { gunzip, gzip } from '../shared/zlib.js';
import { eventList, withParsedEvents, type DeliveryJob, type FetchedJob } from './delivery-job.js';
import { decodeJobBody, encodeJobBody, type FetchedJobBody, type JobBody } from './job-payload.js';

/**
 * How a job is stored: the events (and pending items) gzip'd in one base64 string (see job-payload),
 * the rest readable. PostgreSQL then stores a small opaque string instead of parsing and
 * TOAST-compressing a megabyte of JSON per job, and (de)compression runs on libuv's thread pool.
 */
interface StoredJob {
  orgId: string;
  integrationId: string;
  attempt: number;
  acceptedAt: number;
  lastError?: string;
  /** Events (or pending items on a retry) in the job, for stats. */
  count: number;
  /** 'ndjson' (job-payload); absent: one JSON object `{events, pending}` (jobs queued by 0.1). */
  format?: 'ndjson';
  /** The payload's size before gzip. */
  bytes?: number;
  payload: string;
  /** When a delayed job (a retry, a hold) was due (ms since epoch): how late it started is measured. */
  dueAt?: number;
}

/** A job to queue. */
export interface JobToQueue {
  data: DeliveryJob;
  startAfter?: Date;
}

/** Jobs carrying the same events (one org's accepted events, one job per integration) share one payload. */
async function encodeAll(jobs: JobToQueue[]): Promise<StoredJob[]> {
  const payloads = new Map<unknown, Promise<{ payload: string; bytes: number }>>();
  return Promise.all(
    jobs.map(async (job) => {
      const { events, pending, ...meta } = job.data;
      const key = pending ?? events;
      let payload = payloads.get(key);
      if (!payload) {
        const body = encodeJobBody({ events, pending });
        payload = gzip(body.bytes, 1)
          .then((b) => ({ payload: b.toString('base64'), bytes: body.bytes.length }))
          .finally(body.release);
        payloads.set(key, payload);
      }
      return { ...meta, count: pending ? pending.length : events.length, format: 'ndjson' as const, ...(await payload) };
    }),
  );
}

/** One job as it is stored (the format the pg-boss 10 layout stored too); for migrations and their tests. */
export async function encodeStoredJob(job: DeliveryJob): Promise<StoredJob> {
  return (await encodeAll([{ data: job }]))[0];
}

async function decode(stored: StoredJob): Promise<FetchedJob> {
  const { payload, count: _count, format, bytes: size, dueAt: _dueAt, ...meta } = stored; // eslint-disable-line @typescript-eslint/no-unused-vars
  const bytes = await gunzip(Buffer.from(payload, 'base64'), size);
  const body = format === 'ndjson' ? decodeJobBody(bytes) : legacyBody(bytes);
  return { ...meta, events: body.events, ...(body.pending ? { pending: body.pending } : {}) };
}

/**
 * A job whose payload cannot be read back: its events (as many as it counted) each fail when read, so
 * delivery dead-letters them with the reason instead of the job failing again and again.
 */
function unreadable(stored: StoredJob, err: unknown): FetchedJob {
  const { payload: _payload, count, format: _format, bytes: _bytes, dueAt: _dueAt, ...meta } = stored; // eslint-disable-line @typescript-eslint/no-unused-vars
  const fail = (): never => {
    throw new Error(`its job's payload cannot be read: ${(err as Error)?.message ?? String(err)}`);
  };
  return { ...meta, events: { length: Math.max(1, Number(count) || 1), at: fail, stored: fail } };
}

function legacyBody(bytes: Buffer): FetchedJobBody {
  const body = JSON.parse(bytes.toString('utf8')) as JobBody & { events: CanonicalEvent[] };
  return { ...body, events: eventList(body.events) };
}

/** A caller's transaction the queue's changes join (see db-transaction). */
export type QueueDb = SqlExecutor;

export interface QueueCounts {
  queuedJobs: number;
  queuedEvents: number;
  inFlightJobs: number;
  inFlightEvents: number;
}

/** A fetched job: pg-boss's, with its payload decoded; `dueAt` when it was queued to start later. */
export type QueuedJob = Job<FetchedJob> & { dueAt?: number };

/** The one pg-boss queue every integration's jobs share; the integration is the job's group. */
export const QUEUE = 'delivery';

/** How long a queued job may wait (for a disabled integration, or one whose credentials are refused). */
export const JOB_RETENTION_SECONDS = 30 * 86_400;

/** The channel a commit that queues due jobs notifies, so idle workers fetch at once (see JobNotifications). */
export const JOBS_CHANNEL = 'mixpanel_delivery_jobs';

/**
 * Where jobs of the pg-boss 10 layout (one queue per integration) wait to be queued again: a
 * migration moves them here before it removes that schema, and the first queue to start moves them
 * into the shared queue (see carryOver).
 */
const CARRIED = 'delivery_jobs_carried';

/**
 * The delivery queue on pg-boss: one shared queue, the integration as each job's group, so pg-boss
 * limits how many of one integration's jobs are active at once across every worker
 * (`groupConcurrency`) and an org's backlog cannot crowd out another's. Nothing here is per
 * integration: installing one creates no table, no queue and takes no lock. pg-boss's own retry only
 * recovers jobs of a worker that died (they expire and come back); delivery retries are scheduled by
 * the worker itself as new jobs, so it controls back-off and Retry-After.
 */
export class DeliveryQueue {
  constructor(
    readonly boss: PgBoss,
    private readonly knex: Knex,
    private readonly expireInSeconds: number,
    /** pg-boss's connections (its statements prepared once per connection, see preparedQuery). */
    private readonly pool: pg.Pool,
    /** Statements on that pool, outside any caller's transaction. */
    private readonly own: QueueDb,
  ) {}

  static async start(
    connectionString: string,
    knex: Knex,
    opts: { expireInSeconds: number; maintenanceSeconds: number; poolMax: number; onError: (err: Error) => void },
  ): Promise<DeliveryQueue> {
    const pool = new pg.Pool({ connectionString, max: opts.poolMax, application_name: 'pgboss', connectionTimeoutMillis: 10_000 });
    pool.on('error', opts.onError);
    const own = poolExecutor(pool);
    const boss = new PgBoss({
      db: own,
      schedule: false,
      supervise: true,
      // Expired jobs (their worker died) are handed out again by the supervisor's monitor pass.
      superviseIntervalSeconds: opts.maintenanceSeconds,
      monitorIntervalSeconds: opts.maintenanceSeconds,
      maintenanceIntervalSeconds: Math.max(opts.maintenanceSeconds, 60),
    });
    boss.on('error', opts.onError);
    try {
      await boss.start();
    } catch (err) {
      await pool.end();
      throw err;
    }
    const queue = new DeliveryQueue(boss, knex, opts.expireInSeconds, pool, own);
    await queue.createQueue();
    await queue.carryOver();
    return queue;
  }

  /**
   * Creates the shared queue once (processes starting together take turns under an advisory lock).
   * Job payloads are gzip'd already, so the job table stores them without compression (STORAGE
   * EXTERNAL): PostgreSQL's pglz pass over them came to no gain and a fifth of its CPU in the benchmark.
   */
  private async createQueue(): Promise<void> {
    await this.knex.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', ['mixpanel-delivery:create-queue']);
      if (!(await this.boss.getQueue(QUEUE))) {
        await this.boss.createQueue(QUEUE, { ...this.jobOptions(), deleteAfterSeconds: 3600 });
      }
      const compressed = await trx.raw(`SELECT 1 FROM pg_attribute WHERE attrelid = 'pgboss.job_common'::regclass AND attname = 'data' AND attstorage <> 'e'`);
      if (compressed.rows.length > 0) await trx.raw('ALTER TABLE pgboss.job_common ALTER COLUMN data SET STORAGE EXTERNAL');
    });
  }

  /** Queues again, in one transaction, the jobs a migration carried over from the pg-boss 10 layout. */
  private async carryOver(): Promise<void> {
    if (!(await this.knex.schema.hasTable(CARRIED))) return;
    await inTransaction(this.knex, async (trx, db) => {
      const rows = (await trx(CARRIED).select('id', 'integration_id', 'data', 'start_after').orderBy('id').forUpdate().skipLocked()) as {
        id: number;
        integration_id: string;
        data: StoredJob;
        start_after: Date;
      }[];
      if (rows.length === 0) return;
      const jobs = rows.map((r) => ({ data: r.data, group: { id: r.integration_id }, startAfter: r.start_after, ...this.jobOptions() }));
      await this.boss.insert(QUEUE, jobs, { db });
      await trx(CARRIED).whereIn('id', rows.map((r) => r.id)).delete();
    });
  }

  /**
   * pg-boss's own retry only brings back a dead worker's jobs; a job waits at most JOB_RETENTION_SECONDS
   * before pg-boss deletes it (a disabled integration's events wait that long).
   */
  private jobOptions() {
    return { retryLimit: 1000, retryDelay: 1, expireInSeconds: this.expireInSeconds, retentionSeconds: JOB_RETENTION_SECONDS };
  }

  /**
   * Inserts all jobs in one statement, in the caller's transaction (or one of its own), and notifies
   * idle workers when any is due now: they hear it when that transaction commits.
   */
  async enqueue(jobs: JobToQueue[], db?: QueueDb): Promise<void> {
    if (jobs.length === 0) return;
    if (!db) return inTransaction(this.knex, (_trx, own) => this.enqueue(jobs, own));
    const encoded = await encodeAll(jobs);
    const rows = jobs.map((j, i) => ({
      data: j.startAfter ? { ...encoded[i], dueAt: j.startAfter.getTime() } : encoded[i],
      group: { id: j.data.integrationId },
      ...this.jobOptions(),
      ...(j.startAfter ? { startAfter: j.startAfter } : {}),
    }));
    await this.boss.insert(QUEUE, rows, { db });
    const now = Date.now();
    if (jobs.some((j) => !j.startAfter || j.startAfter.getTime() <= now)) await notifyWorkers(db);
  }

  /**
   * Up to `batchSize` due jobs of any integrations but `skip`, never more than `perIntegration` of one
   * integration active at once (counted across every worker): first the oldest due job of each
   * integration that has none active, then the oldest of the rest. Oldest first alone would hand the
   * room a finished job frees to the older jobs of integrations already being delivered: an org whose
   * integrations (or several orgs whose backlogs) can fill every job a worker runs at once would keep
   * another org's events waiting until their whole backlog had gone.
   */
  async fetch(batchSize: number, perIntegration: number, skip: string[] = []): Promise<QueuedJob[]> {
    const ignore = skip.length > 0 ? { ignoreGroups: skip } : {};
    const idle = await this.boss.fetch<StoredJob>(QUEUE, { batchSize, groupConcurrency: 1, ...ignore });
    const more = idle.length < batchSize && perIntegration > 1 ? await this.boss.fetch<StoredJob>(QUEUE, { batchSize: batchSize - idle.length, groupConcurrency: perIntegration, ...ignore }) : [];
    const jobs = [...idle, ...more];
    return Promise.all(
      jobs.map(async (j) => ({
        ...j,
        ...(j.data.dueAt !== undefined ? { dueAt: j.data.dueAt } : {}),
        data: await decode(j.data).catch((err) => unreadable(j.data, err)),
      })),
    );
  }

  /** Jobs waiting (not yet fetched) for an integration, decoded; for inspection and tests. */
  async peek(integrationId: string): Promise<ReturnType<typeof withParsedEvents>[]> {
    const rows = await this.knex.raw(
      `SELECT data FROM pgboss.job WHERE name = ? AND group_id = ? AND state IN ('created', 'retry') ORDER BY created_on`,
      [QUEUE, integrationId],
    );
    return Promise.all((rows.rows as { data: StoredJob }[]).map(async (r) => withParsedEvents(await decode(r.data))));
  }

  /**
   * Done with these jobs: they are deleted, in the caller's transaction (or on their own). pg-boss's
   * complete marks a job completed and keeps it until its maintenance deletes it: one more row version
   * and index entry per job, and a table that fetch scans grows with the traffic of the last hour.
   * Deleting took PostgreSQL's CPU per small request from ~2.2 to ~1 ms. Nothing reads finished jobs
   * (delivery logs and counters say what was done).
   */
  async complete(ids: string[], db?: QueueDb): Promise<void> {
    if (ids.length === 0) return;
    await (db ?? this.own).executeSql('DELETE FROM pgboss.job WHERE name = $1 AND id = ANY($2::uuid[])', [QUEUE, ids]);
  }

  /**
   * Drops an integration's jobs, active ones too, in the caller's transaction. It first takes the
   * integration's commit lock exclusively, so it waits for batch commits in flight (see lockForCommit)
   * and every later commit sees the integration deleted.
   */
  async drop(integrationId: string, trx: Knex.Transaction): Promise<void> {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [commitLockName(integrationId)]);
    await trx.raw('DELETE FROM pgboss.job WHERE name = ? AND group_id = ?', [QUEUE, integrationId]);
  }

  /**
   * Taken (shared) for the rest of a transaction that queues jobs (ingest, a batch's follow-ups, a
   * replay), so a drop cannot slip between its check that the integrations still exist and its insert.
   * Take it after any row locks on integrations (a drop holds one while it waits for this lock). The
   * locks are taken in the order of their keys, whatever the order of `integrationIds`: two commits
   * asking for the same integrations in opposite orders, with drops waiting between them, would
   * otherwise each hold a lock the other waits for.
   */
  async lockForCommit(integrationIds: string[], db: QueueDb): Promise<void> {
    // The lock calls are evaluated after the sort (volatile output expressions are, in PostgreSQL).
    await db.executeSql(
      'SELECT pg_advisory_xact_lock_shared(key) FROM (SELECT DISTINCT hashtext(name) AS key FROM unnest($1::text[]) AS name) AS keys ORDER BY key',
      [integrationIds.map(commitLockName)],
    );
  }

  /**
   * The commit gate: takes the commit lock for these integrations, then asks the integrations table's
   * owner which still exist (as a statement of its own, it sees a deletion that committed meanwhile).
   * Only those may be queued for in this transaction.
   */
  async liveUnderLock(integrationIds: string[], db: QueueDb, integrations: { liveIds(db: QueueDb, ids: string[]): Promise<Set<string>> }): Promise<Set<string>> {
    if (integrationIds.length === 0) return new Set();
    await this.lockForCommit(integrationIds, db);
    return integrations.liveIds(db, integrationIds);
  }

  /**
   * Up to `limit` waiting jobs that pg-boss's retention would delete within `withinSeconds` (they have
   * waited about JOB_RETENTION_SECONDS: an integration disabled, or its credentials refused, all that
   * time), oldest first, locked for the caller's transaction (another worker skips them).
   */
  async nearRetention(db: QueueDb, withinSeconds: number, limit: number): Promise<{ id: string; data: FetchedJob }[]> {
    const { rows } = await db.executeSql(
      `SELECT id, data FROM pgboss.job
        WHERE name = $1 AND state IN ('created', 'retry') AND keep_until < now() + make_interval(secs => $2)
        ORDER BY keep_until LIMIT $3 FOR UPDATE SKIP LOCKED`,
      [QUEUE, withinSeconds, limit],
    );
    return Promise.all(
      (rows as { id: string; data: StoredJob }[]).map(async (r) => ({ id: r.id, data: await decode(r.data).catch((err) => unreadable(r.data, err)) })),
    );
  }

  /** Makes the integration's waiting jobs due now (after its circuit breaker closed); returns how many. */
  async wake(integrationId: string): Promise<number> {
    return inTransaction(this.knex, async (trx, db) => {
      const res = await trx.raw(
        `UPDATE pgboss.job SET start_after = now() WHERE name = ? AND group_id = ? AND state IN ('created', 'retry') AND start_after > now()`,
        [QUEUE, integrationId],
      );
      if (res.rowCount > 0) await notifyWorkers(db);
      return res.rowCount as number;
    });
  }

  async counts(integrationId: string): Promise<QueueCounts> {
    const rows = (
      await this.knex.raw(
        `SELECT state, count(*)::int AS jobs,
                coalesce(sum((data->>'count')::int), 0)::int AS events
           FROM pgboss.job WHERE name = ? AND group_id = ? AND state IN ('created', 'retry', 'active') GROUP BY state`,
        [QUEUE, integrationId],
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
    await this.boss.stop({ graceful: true, timeout: 10_000 });
    await this.pool.end();
  }
}

/** Tells idle workers (JobNotifications) that jobs are due, when the transaction of `db` commits. */
async function notifyWorkers(db: QueueDb): Promise<void> {
  await db.executeSql('SELECT pg_notify($1, $2)', [JOBS_CHANNEL, '']);
}

/** The advisory lock that orders an integration's deletion against commits that queue its jobs. */
function commitLockName(integrationId: string): string {
  return `delivery-${integrationId}`;
}
