import PgBoss from 'pg-boss';
import type { SqlExecutor } from '../db-transaction.js';
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
}

/** A job to queue. */
export interface JobToQueue {
  data: DeliveryJob;
  startAfter?: Date;
}

/** Jobs carrying the same events (one ingest request, one job per integration) share one payload. */
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

async function decode(stored: StoredJob): Promise<FetchedJob> {
  const { payload, count: _count, format, bytes: size, ...meta } = stored; // eslint-disable-line @typescript-eslint/no-unused-vars
  const bytes = await gunzip(Buffer.from(payload, 'base64'), size);
  const body = format === 'ndjson' ? decodeJobBody(bytes) : legacyBody(bytes);
  return { ...meta, events: body.events, ...(body.pending ? { pending: body.pending } : {}) };
}

/**
 * A job whose payload cannot be read back: its events (as many as it counted) each fail when read, so
 * delivery dead-letters them with the reason instead of the job failing again and again.
 */
function unreadable(stored: StoredJob, err: unknown): FetchedJob {
  const { payload: _payload, count, format: _format, bytes: _bytes, ...meta } = stored; // eslint-disable-line @typescript-eslint/no-unused-vars
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

/**
 * The delivery queue on pg-boss: one queue (`delivery-{integration_id}`) per integration. pg-boss's own
 * retry is used only to recover jobs of a worker that died (they expire and come back); delivery
 * retries are scheduled by the worker itself as new jobs, so it controls back-off and Retry-After.
 */
export class DeliveryQueue {
  private readonly ensured = new Set<string>();
  private readonly creating = new Map<string, Promise<void>>();

  constructor(
    readonly boss: PgBoss,
    private readonly knex: Knex,
    private readonly expireInSeconds: number,
  ) {}

  static async start(
    connectionString: string,
    knex: Knex,
    opts: { expireInSeconds: number; maintenanceSeconds: number; poolMax: number; onError: (err: Error) => void },
  ): Promise<DeliveryQueue> {
    const { expireInSeconds, maintenanceSeconds } = opts;
    const boss = new PgBoss({
      connectionString,
      max: opts.poolMax,
      schedule: false,
      supervise: true,
      maintenanceIntervalSeconds: maintenanceSeconds,
      monitorStateIntervalSeconds: Math.max(maintenanceSeconds, 10),
      archiveCompletedAfterSeconds: 3600,
      deleteAfterDays: 1,
    });
    boss.on('error', opts.onError);
    await boss.start();
    return new DeliveryQueue(boss, knex, expireInSeconds);
  }

  static queueName(integrationId: string): string {
    return `delivery-${integrationId}`;
  }

  /** Creates the integration's queue unless it exists; callers in this process asking at once share one try. */
  async ensure(integrationId: string): Promise<void> {
    const name = DeliveryQueue.queueName(integrationId);
    if (this.ensured.has(name)) return;
    let creating = this.creating.get(name);
    if (!creating) {
      creating = this.createQueue(name).finally(() => this.creating.delete(name));
      this.creating.set(name, creating);
    }
    await creating;
  }

  /**
   * pg-boss's create_queue inserts the queue's row, then takes a stronger lock on the same table to add
   * the partition's foreign key, so two calls at once (an install and a worker or an ingest, in any
   * processes) can deadlock. Calls take turns under an advisory lock, held by a transaction of its own
   * while pg-boss creates the queue on its connection.
   *
   * Job payloads are gzip'd already, so the queue's partition stores them without compression
   * (STORAGE EXTERNAL): PostgreSQL's pglz pass over them came to no gain and a fifth of its CPU in the
   * benchmark. pg-boss makes each partition LIKE pgboss.job, which leaves column storage behind, so
   * it is set here, on queues created before this too.
   */
  private async createQueue(name: string): Promise<void> {
    await this.knex.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', ['mixpanel-delivery:create-queue']);
      await this.boss.createQueue(name, { name, retryLimit: 1000, retryDelay: 1, expireInSeconds: this.expireInSeconds });
      const compressed = await trx.raw(
        `SELECT q.partition_name FROM pgboss.queue q
           JOIN pg_attribute a ON a.attrelid = format('pgboss.%I', q.partition_name)::regclass AND a.attname = 'data'
          WHERE q.name = ? AND a.attstorage <> 'e'`,
        [name],
      );
      for (const { partition_name: partition } of compressed.rows as { partition_name: string }[]) {
        await trx.raw('ALTER TABLE pgboss.?? ALTER COLUMN data SET STORAGE EXTERNAL', [partition]);
      }
    });
    this.ensured.add(name);
  }

  isEnsured(integrationId: string): boolean {
    return this.ensured.has(DeliveryQueue.queueName(integrationId));
  }

  async ensureAll(integrationIds: Iterable<string>): Promise<void> {
    await Promise.all([...new Set(integrationIds)].map((id) => this.ensure(id)));
  }

  /**
   * Inserts all jobs in one statement (atomic), optionally inside the caller's transaction. Inside one,
   * the queues must exist already (ensure them first): creating one takes a connection and a lock of
   * its own, and a request must never hold a connection while it waits for another.
   */
  async enqueue(jobs: JobToQueue[], db?: QueueDb): Promise<void> {
    if (jobs.length === 0) return;
    if (db) {
      const missing = jobs.map((j) => j.data.integrationId).filter((id) => !this.ensured.has(DeliveryQueue.queueName(id)));
      if (missing.length > 0) throw new Error(`queues not ensured before the transaction: ${[...new Set(missing)].join(', ')}`);
    }
    const encoded = await encodeAll(jobs);
    const rows = jobs.map((j, i) => ({
      name: DeliveryQueue.queueName(j.data.integrationId),
      data: encoded[i],
      retryLimit: 1000,
      retryDelay: 1,
      expireInSeconds: this.expireInSeconds,
      ...(j.startAfter ? { startAfter: j.startAfter } : {}),
    }));
    if (!db) await this.ensureAll(jobs.map((j) => j.data.integrationId));
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

  async fetch(integrationId: string, batchSize: number): Promise<PgBoss.Job<FetchedJob>[]> {
    await this.ensure(integrationId);
    const jobs = (await this.boss.fetch<StoredJob>(DeliveryQueue.queueName(integrationId), { batchSize })) ?? [];
    return Promise.all(jobs.map(async (j) => ({ ...j, data: await decode(j.data).catch((err) => unreadable(j.data, err)) })));
  }

  /** Jobs waiting (not yet fetched) in an integration's queue, decoded; for inspection and tests. */
  async peek(integrationId: string): Promise<ReturnType<typeof withParsedEvents>[]> {
    const rows = await this.knex.raw(`SELECT data FROM pgboss.job WHERE name = ? AND state IN ('created', 'retry') ORDER BY created_on`, [
      DeliveryQueue.queueName(integrationId),
    ]);
    return Promise.all((rows.rows as { data: StoredJob }[]).map(async (r) => withParsedEvents(await decode(r.data))));
  }

  async complete(integrationId: string, ids: string[], db?: QueueDb): Promise<void> {
    if (ids.length > 0) await this.boss.complete(DeliveryQueue.queueName(integrationId), ids, db ? { db } : {});
  }

  /**
   * Drops the queue's jobs, active ones too, in the caller's transaction. It first takes the queue's
   * lock exclusively, so it waits for batch commits in flight (see lockForCommit) and every later
   * commit sees the integration deleted. The empty pg-boss partition is left in place: dropping it
   * would need an exclusive lock on the whole job table and stall every other integration's delivery.
   */
  async drop(integrationId: string, trx: Knex.Transaction): Promise<void> {
    const name = DeliveryQueue.queueName(integrationId);
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [name]);
    await trx.raw('DELETE FROM pgboss.job WHERE name = ?', [name]);
  }

  /**
   * Taken (shared) for the rest of a transaction that queues jobs (ingest, a batch's follow-ups, a
   * replay), so a drop cannot slip between its check that the integrations still exist and its insert.
   * Take it after any row locks on integrations (a drop holds one while it waits for this lock).
   */
  async lockForCommit(integrationIds: string[], db: QueueDb): Promise<void> {
    await db.executeSql('SELECT pg_advisory_xact_lock_shared(hashtext(name)) FROM unnest($1::text[]) AS name', [
      integrationIds.map(DeliveryQueue.queueName),
    ]);
  }


  /**
   * The commit gate: takes the commit lock for these integrations, then asks the integrations table's
   * owner which still exist (as a statement of its own, it sees a deletion that committed meanwhile).
   * Only those may be queued for in this transaction.
   */
  async liveUnderLock(integrationIds: string[], db: QueueDb, integrations: { liveIds(db: QueueDb, ids: string[]): Promise<Set<string>> }): Promise<Set<string>> {
    await this.lockForCommit(integrationIds, db);
    return integrations.liveIds(db, integrationIds);
  }

  /** Makes the integration's waiting jobs due now (after its circuit breaker closed); returns how many. */
  async wake(integrationId: string): Promise<number> {
    const res = await this.knex.raw(`UPDATE pgboss.job SET start_after = now() WHERE name = ? AND state IN ('created', 'retry') AND start_after > now()`, [
      DeliveryQueue.queueName(integrationId),
    ]);
    return res.rowCount ?? 0;
  }

  async counts(integrationId: string): Promise<QueueCounts> {
    const rows = (
      await this.knex.raw(
        `SELECT state, count(*)::int AS jobs,
                coalesce(sum((data->>'count')::int), 0)::int AS events
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
