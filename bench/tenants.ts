import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { histogram } from '../test/support/metrics-text.js';
import { freePort } from '../test/support/server-process.js';
import { bodyOf, machineBusySeconds, pool, roundRobinPosts } from './load.js';
import { cpuSeconds, rssMb, sleep, startStack } from './stack.js';

/**
 * `npm run bench tenants`: how delivery's costs grow with the number of installed integrations (one
 * per org), not only with traffic. One API process (no delivery in it) and one `npm run worker`, on
 * one PostgreSQL, against the stand-in Mixpanel:
 *  - idle PostgreSQL transactions/s, idle CPU and RSS with 1 integration, then with BENCH_TENANTS;
 *  - install latency (p50/p99) while the count grows;
 *  - a worker started against all of them: time until it delivers;
 *  - one busy org alone, then among all the idle ones; the same traffic spread over 1,000 orgs (what is
 *    compared runs in turns, BENCH_TENANT_ROUNDS times, and the median counts);
 *  - a quiet org's latency while a noisy org drains a 150,000-event backlog;
 *  - the first event of a freshly installed integration; how late delayed retries fire.
 */
const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0);

interface Burst {
  events_per_s: number;
  ingest_events_per_s: number;
  duplicates: number;
  cpu_ms_per_1000_events: Record<string, number>;
}

/** The run of median rate (of an odd count; the upper middle one of an even count). */
const median = (runs: Burst[]) => [...runs].sort((a, b) => a.events_per_s - b.events_per_s)[Math.floor(runs.length / 2)];

export async function benchTenants(): Promise<Record<string, unknown>> {
  const tenants = Number(process.env.BENCH_TENANTS ?? 10_000);
  const events = Number(process.env.BENCH_TENANT_EVENTS ?? 200_000);
  const backlog = Number(process.env.BENCH_BACKLOG_EVENTS ?? 150_000);
  const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
  // POSTs in flight during a burst (clients posting at once).
  const lanes = Number(process.env.BENCH_TENANT_LANES ?? 4);
  // After the installs PostgreSQL's autovacuum and autoanalyze run a while (their transactions count too).
  const settleSeconds = Number(process.env.BENCH_IDLE_SETTLE_SECONDS ?? 60);
  const rounds = Number(process.env.BENCH_TENANT_ROUNDS ?? 3);
  const workerMetricsPort = await freePort();
  const stack = await startStack({ separateWorkers: 1, env: { WORKER_METRICS_PORT: String(workerMetricsPort) } });
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  let worker = stack.workers[0];
  try {
    const transactions = async () =>
      Number((await db.query('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0].n);
    const cpu = () => ({
      service: cpuSeconds((_c, pid) => pid === stack.service.pid || pid === worker.pid),
      machine: machineBusySeconds(),
    });
    /** Transactions/s on the service's database, and cores used, while nothing is sent. */
    const idle = async () => {
      await sleep(settleSeconds * 1000); // what the last step started settles
      const [x0, c0] = [await transactions(), cpu()];
      await sleep(idleSeconds * 1000);
      const [x1, c1] = [await transactions(), cpu()];
      const cores = (a: number, b: number) => Math.round(((b - a) / idleSeconds) * 1000) / 1000;
      return {
        transactions_per_s: Math.round(((x1 - x0 - 1) / idleSeconds) * 10) / 10,
        cpu_service_cores: cores(c0.service, c1.service),
        cpu_machine_cores: cores(c0.machine, c1.machine),
        rss_api_mb: Math.round(rssMb(stack.service.pid!)),
        rss_worker_mb: Math.round(rssMb(worker.pid!)),
      };
    };
    /** GET /metrics of the API five times: the median time, its size and the per-integration series. */
    const scrape = async () => {
      const ms: number[] = [];
      let text = '';
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        text = await (await fetch(`${stack.base}/metrics`)).text();
        ms.push(performance.now() - t);
      }
      ms.sort((a, b) => a - b);
      return { ms: Math.round(ms[2]), kb: Math.round(Buffer.byteLength(text) / 1024), integration_series: (text.match(/\{integration_id="/g) ?? []).length };
    };
    /** CPU seconds so far of the API, the worker, PostgreSQL and the stand-in. */
    const cpuByPart = () => ({
      api: cpuSeconds((_c, pid) => pid === stack.service.pid),
      worker: cpuSeconds((_c, pid) => pid === worker.pid),
      postgres: cpuSeconds((cmd) => cmd.startsWith('postgres')),
      stand_in: cpuSeconds((_c, pid) => pid === stack.fakePid),
    });
    /**
     * `total` events for the orgs of `keys` (round robin), `perPost` per POST, `lanes` POSTs in flight;
     * events/s from first POST to last arrival, and where the cores went (CPU ms per 1,000 events).
     */
    const burst = async (lane: string, keys: string[], total: number, perPost: number): Promise<Burst> => {
      await stack.resetFake();
      const bodies = roundRobinPosts(keys, lane, total, perPost);
      const c0 = cpuByPart();
      const t0 = performance.now();
      await pool(bodies, lanes, ({ key, body }) => stack.post(body, key));
      const ingestSeconds = (performance.now() - t0) / 1000;
      const s = await stack.waitDelivered(bodies.length * perPost, 600_000, lane);
      const n = bodies.length * perPost;
      const c1 = cpuByPart();
      const cpuMsPer1000 = Object.fromEntries(Object.entries(c1).map(([part, v]) => [part, Math.round(((v - c0[part as keyof typeof c0]) / n) * 1e6)]));
      return { events_per_s: Math.round(n / ((performance.now() - t0) / 1000)), ingest_events_per_s: Math.round(n / ingestSeconds), duplicates: s.duplicates, cpu_ms_per_1000_events: cpuMsPer1000 };
    };

    // 1. One integration.
    await stack.install('solo');
    const soloKey = await stack.ingestKey('solo');
    // Warmed up (JIT, pools, caches) on both POST sizes, so the first measure is not the coldest.
    await burst('warmup', [soloKey], 20_000, 1000);
    await burst('warmup200', [soloKey], 20_000, 200);
    // Measures that are compared run in turns, `rounds` times each, and each figure is the median:
    // this machine's speed drifts by tens of percent within minutes (the host's other tenants).
    const aloneRuns: Burst[] = [];
    const alone200Runs: Burst[] = [];
    for (let r = 0; r < rounds; r++) {
      aloneRuns.push(await burst('alone', [soloKey], events, 1000));
      alone200Runs.push(await burst('alone200', [soloKey], events, 200));
    }
    const [alone, alone200] = [median(aloneRuns), median(alone200Runs)];
    const idleOne = await idle(); // after traffic, like the measure with every integration installed
    const scrapeOne = await scrape();

    // 2. Installs up to `tenants`, one org each, 8 at a time.
    const installMs: number[] = [];
    const lastThousand: number[] = [];
    const orgs = Array.from({ length: tenants - 1 }, (_, i) => `tenant-${i}`);
    const installsStarted = performance.now();
    await pool(orgs, 8, async (org) => {
      const t = performance.now();
      await stack.install(org);
      const ms = performance.now() - t;
      installMs.push(ms);
      if (installMs.length > orgs.length - 1000) lastThousand.push(ms);
    });
    const installSeconds = (performance.now() - installsStarted) / 1000;
    installMs.sort((a, b) => a - b);
    lastThousand.sort((a, b) => a - b);
    const idleMany = await idle();
    const scrapeMany = await scrape();

    // 3. A worker started against all of them: from its start to its first delivery.
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await stack.resetFake();
    await stack.post(bodyOf('restart', 1), soloKey);
    const started = performance.now();
    worker = stack.spawnWorker();
    await stack.waitDelivered(1, 60_000, 'restart');
    const workerStartMs = Math.round(performance.now() - started);

    // 4. One busy org among the idle ones; the same traffic over 1,000 orgs, 200 events per POST.
    // The new worker is warmed up first, as the first one was before the single org was measured.
    await burst('rewarm', [soloKey], 20_000, 1000);
    const spreadKeys: string[] = [];
    await pool(orgs.slice(0, 1000), 8, async (org) => void spreadKeys.push(await stack.ingestKey(org)));
    // The code path of many orgs' small POSTs is warmed up on 200 other orgs first, so that the next
    // measure is what each org's first traffic costs, not the code's first run (JIT, pools).
    const warmKeys: string[] = [];
    await pool(orgs.slice(-200), 8, async (org) => void warmKeys.push(await stack.ingestKey(org)));
    await burst('spread_warmup', warmKeys, 40_000, 200);
    // First as each org's first traffic on this worker (its key, integration and secret looked up),
    // then again: the single org was warmed up too before it was measured.
    const spreadCold = await burst('spread_cold', spreadKeys, events, 200);
    // The busy org and the spread in turns: each spread run is also compared with the busy org's run
    // just before it (the same org posting 1,000 per POST, minutes later than "alone" was measured).
    const busyRuns: Burst[] = [];
    const spreadRuns: Burst[] = [];
    for (let r = 0; r < rounds; r++) {
      busyRuns.push(await burst('busy', [soloKey], events, 1000));
      spreadRuns.push(await burst('spread', spreadKeys, events, 200));
    }
    const [busy, spread] = [median(busyRuns), median(spreadRuns)];
    const pairedSpreadRatios = spreadRuns.map((s, r) => s.events_per_s / busyRuns[r].events_per_s).sort((a, b) => a - b);

    // 5. A quiet org while a noisy org drains a backlog: the quiet one's latency.
    await stack.resetFake();
    const quietKey = spreadKeys[1];
    const noisyPosts = roundRobinPosts([soloKey], 'noisy', backlog, 1000);
    const noisy = pool(noisyPosts, 4, ({ key, body }) => stack.post(body, key));
    let quietSent = 0;
    const noisyDone = stack.waitDelivered(noisyPosts.length * 1000, 600_000, 'noisy');
    let drained = false;
    void noisyDone.then(() => (drained = true));
    while (!drained) {
      await stack.post(bodyOf('quiet', 10, quietSent), quietKey);
      quietSent += 10;
      await sleep(100);
    }
    await noisy;
    const quiet = await stack.waitDelivered(quietSent, 60_000, 'quiet');

    // 6. The first event of a freshly installed integration; delayed retries (the stand-in fails once).
    const freshOrg = `fresh-${randomUUID()}`;
    await stack.install(freshOrg);
    const freshKey = await stack.ingestKey(freshOrg);
    await stack.resetFake();
    await stack.post(bodyOf('fresh', 1), freshKey);
    const fresh = await stack.waitDelivered(1, 60_000, 'fresh');
    // Five requests fail once (503): five retries, each due after the short back-off.
    await stack.failNext([503, 503, 503, 503, 503]);
    for (let i = 0; i < 5; i++) await stack.post(bodyOf('retried', 1, i), freshKey);
    await stack.waitDelivered(5, 120_000, 'retried');
    // How late the worker took them, from its own histogram (finished jobs are deleted).
    const late = histogram(await (await fetch(`http://127.0.0.1:${workerMetricsPort}/metrics`)).text(), 'delivery_delayed_job_lateness_seconds');
    const lateP99 = late.buckets.find((b) => b.count >= Math.ceil(late.count * 0.99))?.le;

    return {
      tenants,
      idle_1: idleOne,
      [`idle_${tenants}`]: idleMany,
      metrics_scrape_1: scrapeOne,
      [`metrics_scrape_${tenants}`]: scrapeMany,
      idle_transactions_ratio: Math.round((idleMany.transactions_per_s / Math.max(idleOne.transactions_per_s, 0.1)) * 10) / 10,
      install_seconds_total: Math.round(installSeconds),
      install_p50_ms: Math.round(pct(installMs, 50)),
      install_p99_ms: Math.round(pct(installMs, 99)),
      install_p99_last_1000_ms: Math.round(pct(lastThousand, 99)),
      worker_start_to_first_delivery_ms: workerStartMs,
      busy_org_alone_events_per_s: alone.events_per_s,
      [`busy_org_among_${tenants}_events_per_s`]: busy.events_per_s,
      busy_ratio: Math.round((busy.events_per_s / alone.events_per_s) * 100) / 100,
      rounds,
      events_per_s_of_each_round: {
        alone: aloneRuns.map((b) => b.events_per_s),
        alone_200_per_post: alone200Runs.map((b) => b.events_per_s),
        busy: busyRuns.map((b) => b.events_per_s),
        spread: spreadRuns.map((b) => b.events_per_s),
      },
      spread_over_1000_orgs_events_per_s: spread.events_per_s,
      spread_over_1000_orgs_ingest_events_per_s: spread.ingest_events_per_s,
      spread_over_1000_orgs_first_traffic_events_per_s: spreadCold.events_per_s,
      busy_org_alone_ingest_events_per_s: alone.ingest_events_per_s,
      busy_org_alone_200_per_post_ingest_events_per_s: alone200.ingest_events_per_s,
      busy_org_alone_200_per_post_events_per_s: alone200.events_per_s,
      spread_ratio: Math.round((spread.events_per_s / alone.events_per_s) * 100) / 100,
      spread_ratio_to_busy_run_before: Math.round(pct(pairedSpreadRatios, 50) * 100) / 100,
      spread_ratio_same_post_size: Math.round((spread.events_per_s / alone200.events_per_s) * 100) / 100,
      spread_first_traffic_ratio_same_post_size: Math.round((spreadCold.events_per_s / alone200.events_per_s) * 100) / 100,
      cpu_ms_per_1000_events: { alone_1000_per_post: alone.cpu_ms_per_1000_events, alone_200_per_post: alone200.cpu_ms_per_1000_events, busy: busy.cpu_ms_per_1000_events, spread: spread.cpu_ms_per_1000_events },
      duplicates: [...aloneRuns, ...alone200Runs, ...busyRuns, ...spreadRuns, spreadCold].reduce((n, b) => n + b.duplicates, 0),
      backlog_events: noisyPosts.length * 1000,
      quiet_events: quietSent,
      quiet_latency_p50_ms: quiet.latency.p50,
      quiet_latency_p99_ms: quiet.latency.p99,
      quiet_latency_max_ms: quiet.latency.max,
      fresh_integration_first_event_ms: fresh.latency.max,
      delayed_jobs_measured: late.count,
      delayed_jobs_within_1_s: late.le('1'),
      delayed_job_lateness_p99_at_most_s: lateP99,
    };
  } finally {
    await db.end();
    await stack.stop();
  }
}
