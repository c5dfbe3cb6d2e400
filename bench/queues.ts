import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { Logger, makeWorkerUtils, run, runMigrations } from 'graphile-worker';
import { withScratchDatabases } from './scratch-databases.js';
import { sleep } from './stack.js';

/**
 * `npm run bench queues`: the two PostgreSQL job queues issue 10 names, each driven by its own worker
 * API, on this workload: many integrations (groups), jobs per group limited, idle cost, wake-up
 * latency. Each runs on a database of its own.
 */
const GROUPS = Number(process.env.BENCH_QUEUE_GROUPS ?? 1000);
const PER_GROUP = Number(process.env.BENCH_QUEUE_JOBS_PER_GROUP ?? 10);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 10);

interface Contender {
  /** Starts consumers that call `onJob(group)` for each job; returns a stop function. */
  consume(onJob: (group: string) => void): Promise<() => Promise<void>>;
  /** Inserts jobs (one per group listed) in one transaction. */
  insert(groups: string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * pg-boss driven as our worker drives it: fetch loops that take what is due, up to 2 active jobs per
 * group, and sleep when nothing is (pg-boss's own work() loop stalls on a grouped queue: a fetch that
 * group limits cut short ends its burst, and it waits its polling interval before fetching again).
 */
async function pgBoss(url: string): Promise<Contender> {
  const boss = new PgBoss({ connectionString: url, max: 8, schedule: false });
  boss.on('error', () => {});
  await boss.start();
  await boss.createQueue('q');
  return {
    async consume(onJob) {
      let running = true;
      const loops = Array.from({ length: 4 }, async () => {
        while (running) {
          const jobs = await boss.fetch<{ g: string }>('q', { batchSize: 10, groupConcurrency: 2 });
          if (jobs.length === 0) {
            await sleep(1000);
            continue;
          }
          for (const j of jobs) onJob(j.data.g);
          await boss.complete('q', jobs.map((j) => j.id));
        }
      });
      return async () => {
        running = false;
        await Promise.all(loops);
      };
    },
    async insert(groups) {
      await boss.insert('q', groups.map((g) => ({ data: { g }, group: { id: g } })));
    },
    close: () => boss.stop({ graceful: false }),
  };
}

async function graphileWorker(url: string): Promise<Contender> {
  const logger = new Logger(() => () => {});
  await runMigrations({ connectionString: url, logger });
  const utils = await makeWorkerUtils({ connectionString: url, logger });
  return {
    async consume(onJob) {
      const runner = await run({
        connectionString: url,
        concurrency: 4,
        pollInterval: 1000,
        noHandleSignals: true,
        logger,
        taskList: { deliver: async (payload) => onJob((payload as { g: string }).g) },
      });
      return async () => {
        await runner.stop();
      };
    },
    async insert(groups) {
      // queueName: graphile-worker's only per-group limit (its jobs run one at a time).
      await utils.addJobs(groups.map((g) => ({ identifier: 'deliver', payload: { g }, queueName: g })));
    },
    close: async () => {
      await utils.release();
    },
  };
}

async function measure(name: string, url: string, make: (url: string) => Promise<Contender>): Promise<Record<string, number | string>> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const transactions = async () => Number((await db.query('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0].n);
  const queue = await make(url);
  let done = 0;
  let woke: (() => void) | undefined;
  const stop = await queue.consume(() => {
    done++;
    woke?.();
  });
  try {
    await sleep(3000);
    const x0 = await transactions();
    await sleep(IDLE_SECONDS * 1000);
    const idle = ((await transactions()) - x0 - 1) / IDLE_SECONDS;

    const wakeMs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      const arrived = new Promise<void>((r) => (woke = r));
      await queue.insert([`wake-${i}`]);
      await arrived;
      wakeMs.push(performance.now() - t);
      await sleep(200);
    }
    woke = undefined;

    done = 0;
    const groups = Array.from({ length: GROUPS }, (_, g) => `g-${g}`);
    const t0 = performance.now();
    for (let k = 0; k < PER_GROUP; k++) await queue.insert(groups);
    const insertSeconds = (performance.now() - t0) / 1000;
    const total = GROUPS * PER_GROUP;
    while (done < total) await sleep(20);
    const drainSeconds = (performance.now() - t0) / 1000;
    wakeMs.sort((a, b) => a - b);
    return {
      [`${name}_idle_transactions_per_s`]: Math.round(idle * 10) / 10,
      [`${name}_wake_median_ms`]: Math.round(wakeMs[5]),
      [`${name}_insert_jobs_per_s`]: Math.round(total / insertSeconds),
      [`${name}_insert_and_drain_jobs_per_s`]: Math.round(total / drainSeconds),
    };
  } finally {
    await stop();
    await queue.close();
    await db.end();
  }
}

export async function benchQueues(): Promise<Record<string, unknown>> {
  return withScratchDatabases('q', async (database) => ({
    queue_groups: GROUPS,
    queue_jobs: GROUPS * PER_GROUP,
    ...(await measure('pg_boss_12', await database(), pgBoss)),
    ...(await measure('graphile_worker_0_18', await database(), graphileWorker)),
  }));
}
