import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db.js';
import { createLogger } from '../src/logger.js';
import { BENCH_RUNS, databaseUrl, dropAbandonedRunDatabases, freshRunFolder, takeRunLease, withClient } from '../test/support/abandoned-runs.js';
import { freePort } from '../test/support/server-process.js';

/** The folders benchmarks make under the temp dir start with this. */
export const BENCH_DIR_PREFIX = 'mpd-bench-';

/**
 * A benchmark's databases on a PostgreSQL server: named `mpd_b_<run id>_…` under a lease held while
 * they exist (see abandoned-runs), so the next benchmark drops those of one killed outright (SIGKILL),
 * which could not drop its own.
 */
export class BenchDatabases {
  private readonly made: string[] = [];

  private constructor(
    private readonly adminUrl: string,
    private readonly runId: string,
    private readonly lease: pg.Client,
  ) {}

  /** Takes this run's lease, then drops what killed benchmarks left on the server. */
  static async open(adminUrl: string): Promise<BenchDatabases> {
    const runId = randomBytes(4).toString('hex');
    const lease = await takeRunLease(adminUrl, runId, BENCH_RUNS);
    const databases = new BenchDatabases(adminUrl, runId, lease);
    await withClient(adminUrl, (c) => dropAbandonedRunDatabases(c, BENCH_RUNS));
    return databases;
  }

  /** A new empty database's URL. */
  async create(): Promise<string> {
    const name = `${BENCH_RUNS.databasePrefix}${this.runId}_${randomBytes(4).toString('hex')}`;
    await withClient(this.adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
    this.made.push(name);
    return databaseUrl(this.adminUrl, name);
  }

  /** Drops the databases made here, then lets go of the lease. */
  async close(): Promise<void> {
    try {
      for (const name of this.made) await withClient(this.adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    } finally {
      await this.lease.end();
    }
  }
}

/**
 * Runs `body` with a maker of empty databases (each one's URL) on `DATABASE_URL`'s server, or on an
 * embedded PostgreSQL in a folder under the temp dir (named for `prefix`); the databases, that
 * PostgreSQL and its folder are removed afterwards (those of a benchmark killed outright, by the next one).
 */
export async function withScratchDatabases<T>(prefix: string, body: (database: () => Promise<string>) => Promise<T>): Promise<T> {
  let dir: string | undefined;
  let stopPg: (() => Promise<void>) | undefined;
  let databases: BenchDatabases | undefined;
  try {
    let adminUrl = process.env.DATABASE_URL;
    if (!adminUrl) {
      dir = await freshRunFolder(`${BENCH_DIR_PREFIX}${prefix}-`);
      const embedded = await startEmbeddedPostgres(dir, await freePort(), createLogger('silent'));
      adminUrl = embedded.url;
      stopPg = embedded.stop;
    }
    databases = await BenchDatabases.open(adminUrl);
    return await body(() => databases!.create());
  } finally {
    await databases?.close();
    await stopPg?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
