import { existsSync, mkdirSync, mkdtempSync, chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { childEnv, freePort, startProcess, startServerProcess, waitFor, type ServerProcess } from './support/server-process.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { TEST_JWT_SECRET } from './support/test-app.js';

/** Whether a process with this id is alive (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const postmasterPid = (dataDir: string) => Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);

/** `npm start` as a user runs it (build, then the compiled server), and what stopping it leaves behind: nothing. */
describe('stopping the service', () => {
  // Made in beforeAll, not when the file is read: a run that filters these tests out leaves no folder.
  let dataDir = '';
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'mpd-life-'));
    chmodSync(dataDir, 0o755);
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  // npm as the test's own runner was started (npm test), else the one on PATH.
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];

  async function npmStart(): Promise<{ proc: ServerProcess; base: string; pgPort: number }> {
    const port = await freePort();
    const pgPort = await freePort();
    const proc = startProcess(npm[0], [...npm.slice(1), 'start'], { DATA_DIR: dataDir, PORT: String(port), EMBEDDED_PG_PORT: String(pgPort), DELIVERY_THREADS: '0' });
    await waitFor(() => proc.output().includes('listening on'), 90000, 'npm start to listen');
    return { proc, base: `http://127.0.0.1:${port}`, pgPort };
  }

  const nodePid = (proc: ServerProcess) => Number(/"pid":(\d+)[^\n]*"msg":"starting"/.exec(proc.output())?.[1]);

  it('SIGTERM to npm start stops the server and its embedded PostgreSQL', async () => {
    const { proc, base } = await npmStart();
    expect(proc.output()).toContain('dist/src/main.js'); // served from the build
    const node = nodePid(proc);
    const postgres = postmasterPid(dataDir);
    expect(node).toBeGreaterThan(0);
    expect(alive(postgres)).toBe(true);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    proc.child.kill('SIGTERM'); // to npm itself, not its process group
    await waitFor(() => !alive(node) && !alive(postgres), 30000, 'node and PostgreSQL to exit');
    // The last lines may still be on their way through the pipe when the processes are gone.
    await waitFor(() => proc.output().includes('"msg":"stopped"'), 5000, 'the last log line');
    expect(proc.output()).toContain('"reason":"SIGTERM"');
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    expect(existsSync(path.join(dataDir, 'service.pid'))).toBe(false);
  }, 150000);

  it("Ctrl-C in a terminal (SIGINT to npm start's whole process group): the server finishes, then stops its PostgreSQL", async () => {
    const { proc, base } = await npmStart();
    const node = nodePid(proc);
    const postgres = postmasterPid(dataDir);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    process.kill(-proc.child.pid!, 'SIGINT'); // what a terminal does: every process of its foreground group
    await waitFor(() => !alive(node) && !alive(postgres), 30000, 'node and PostgreSQL to exit');
    await waitFor(() => proc.output().includes('"msg":"stopped"'), 5000, 'the last log line');
    expect(proc.output()).toContain('"reason":"SIGINT"');
    // PostgreSQL got no SIGINT of its own: it did not shut down under the server's last statements
    expect(proc.output()).not.toContain('terminating connection');
    expect(proc.output()).not.toMatch(/"level":(50|60)/);
    expect(existsSync(path.join(dataDir, 'service.pid'))).toBe(false);
  }, 150000);

  it('when npm is killed outright, the server notices and stops too', async () => {
    const { proc } = await npmStart();
    const node = nodePid(proc);
    const postgres = postmasterPid(dataDir);
    proc.child.kill('SIGKILL');
    await waitFor(() => !alive(node) && !alive(postgres), 30000, 'node and PostgreSQL to exit');
    await waitFor(() => proc.output().includes('"reason":"parent process exited"'), 5000, 'the reason in the log');
  }, 150000);

  it('an embedded PostgreSQL left running by a crash is stopped by the next start', async () => {
    const first = await npmStart();
    const postgres = postmasterPid(dataDir);
    process.kill(nodePid(first.proc), 'SIGKILL'); // a crash: nothing runs our shutdown
    await waitFor(() => !alive(nodePid(first.proc)), 10000, 'the server to die');
    expect(alive(postgres)).toBe(true);

    const second = await npmStart();
    expect(second.proc.output()).toContain('stopping an embedded PostgreSQL left running by an earlier crash');
    expect(alive(postgres)).toBe(false);
    expect((await fetch(`${second.base}/readyz`)).status).toBe(200);
    const postgresNow = postmasterPid(dataDir);
    second.proc.child.kill('SIGTERM');
    await waitFor(() => !alive(postgresNow), 30000, 'PostgreSQL to stop');
  }, 200000);

  // After a crash and a reboot, the pids in those files may belong to other processes by now.
  it('pids reused by other processes: a live node process is not taken for the owner, a live "postgres" of another directory gets no signal', async () => {
    const impostor = startProcess('bash', ['-c', 'exec -a postgres sleep 120'], {});
    await waitFor(() => alive(impostor.child.pid!), 5000, 'the impostor');
    try {
      writeFileSync(path.join(dataDir, 'service.pid'), `${process.pid}\n1\n`); // this test's node, started at another time
      mkdirSync(path.join(dataDir, 'pg'), { recursive: true }); // when this test runs alone
      writeFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), `${impostor.child.pid}\n${dataDir}/pg\n`);
      const { proc, base } = await npmStart();
      expect(proc.output()).toContain(`process ${impostor.child.pid} is gone or is not a PostgreSQL of this directory`);
      expect(proc.output()).not.toContain('another instance');
      expect(alive(impostor.child.pid!)).toBe(true);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      // The real owner, alive, is still told apart: a second start on the directory is refused.
      const second = startServerProcess({ DATA_DIR: dataDir, PORT: String(await freePort()), EMBEDDED_PG_PORT: String(await freePort()) });
      expect(await second.exited).toBe(1);
      expect(second.output()).toContain(`another instance (pid ${nodePid(proc)}) is using ${dataDir}`);
      const postgres = postmasterPid(dataDir);
      proc.child.kill('SIGTERM');
      await waitFor(() => !alive(postgres), 30000, 'PostgreSQL to stop');
    } finally {
      impostor.child.kill('SIGKILL');
    }
  }, 150000);
});

describe('a worker', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('stops cleanly (exit 0) on a SIGTERM that arrives while it is still starting', async () => {
    const proc = startServerProcess({ DATABASE_URL: db.url, JWT_SECRET: TEST_JWT_SECRET, ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'), NODE_ENV: 'test' }, 'src/worker.ts');
    // The signal goes the moment the first log line arrives: the worker starts in well under 100 ms.
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        if (!chunk.toString().includes('"msg":"starting"')) return;
        proc.child.stdout?.off('data', onData);
        proc.child.kill('SIGTERM');
        resolve();
      };
      proc.child.stdout?.on('data', onData);
    });
    expect(await proc.exited).toBe(0);
    await waitFor(() => proc.output().includes('"msg":"stopped"'), 5000, 'the last log line');
    expect(proc.output()).not.toContain('delivery worker running');
  }, 60000);
});

describe('child processes of tests', () => {
  it('get only the environment the test gives them, not the caller\'s secrets', () => {
    const saved = { ...process.env };
    Object.assign(process.env, { JWT_SECRET: 'from-the-shell', ENCRYPTION_KEY: 'x', DATABASE_URL: 'postgres://elsewhere', NODE_OPTIONS: '--inspect' });
    try {
      const env = childEnv({ DATA_DIR: '/d' });
      expect(env).toMatchObject({ DATA_DIR: '/d', PATH: process.env.PATH });
      for (const name of ['JWT_SECRET', 'ENCRYPTION_KEY', 'DATABASE_URL', 'NODE_OPTIONS']) expect(env[name]).toBeUndefined();
    } finally {
      process.env = saved;
    }
  });
});
