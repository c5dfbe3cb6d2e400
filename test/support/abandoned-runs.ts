import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { isAbandonedDataDir } from '../../src/db.js';
import { createLogger } from '../../src/logger.js';

/**
 * The folders under the temp dir named `prefix…` of earlier runs (tests, benchmarks) that were
 * interrupted before their teardown (Ctrl-C twice, a killed CI job, a SIGKILL): removed once the
 * process named in their service.pid is gone (a PostgreSQL left running on one is stopped first). A
 * folder whose run still goes on, or is just starting (no service.pid yet), is left alone.
 */
export async function removeAbandonedFolders(prefix: string): Promise<void> {
  const quiet = createLogger('silent');
  for (const name of readdirSync(os.tmpdir())) {
    if (!name.startsWith(prefix)) continue;
    const dir = path.join(os.tmpdir(), name);
    if (await isAbandonedDataDir(dir, quiet)) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A new folder under the temp dir named `prefix…`, for a run's embedded PostgreSQL, once the folders
 * of that name that interrupted runs left are removed. Its OS user must reach it when runs are root's.
 */
export async function freshRunFolder(prefix: string): Promise<string> {
  await removeAbandonedFolders(prefix);
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** Runs `work` on a connection of its own to `url` (a server's admin database), closed afterwards. */
export async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/** The URL of database `name` on the server of `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * What a run (of the tests, or of a benchmark) names its databases and its lease: every database it
 * creates is named `<databasePrefix><run id>_…`, and the run holds a lease for its whole life, a
 * connection named `<leasePrefix><run id>`, opened before its first database and closed after its last
 * is dropped. A run killed before its teardown (Ctrl-C twice, a killed CI job, a SIGKILL) loses the
 * lease with its process, and the next run of its kind on the same server drops what it left.
 */
export interface RunKind {
  databasePrefix: string;
  leasePrefix: string;
}
export const TEST_RUNS: RunKind = { databasePrefix: 'mpd_t_', leasePrefix: 'mpd-test-run:' };
export const BENCH_RUNS: RunKind = { databasePrefix: 'mpd_b_', leasePrefix: 'mpd-bench-run:' };

/** Holds the run's lease; `end()` it after the run's databases are dropped. `runId`: hex digits. */
export async function takeRunLease(adminUrl: string, runId: string, kind: RunKind = TEST_RUNS): Promise<pg.Client> {
  const lease = new pg.Client({ connectionString: adminUrl, application_name: `${kind.leasePrefix}${runId}` });
  await lease.connect();
  lease.on('error', () => {}); // a lost lease only makes the run's databases look abandoned to a later run
  return lease;
}

/**
 * Drops the databases of runs of this kind that hold no lease and that nothing is connected to (a
 * run's own processes may outlive its lease only while they use its databases); returns their names. A
 * database that someone connects to meanwhile is left for a later run.
 */
export async function dropAbandonedRunDatabases(admin: pg.Client, kind: RunKind = TEST_RUNS): Promise<string[]> {
  const { rows } = await admin.query<{ datname: string }>(
    `SELECT d.datname FROM pg_database d, LATERAL (SELECT substring(d.datname FROM '^' || $2 || '([0-9a-f]+)_') AS run) r
      WHERE r.run IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = $1 || r.run)
        AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE starts_with(a.datname, $2 || r.run || '_'))`,
    [kind.leasePrefix, kind.databasePrefix],
  );
  const dropped: string[] = [];
  for (const { datname } of rows) {
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${datname}"`);
      dropped.push(datname);
    } catch {
      // in use after all (connected to since the check): left alone
    }
  }
  return dropped;
}
