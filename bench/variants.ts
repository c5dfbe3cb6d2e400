import { machineBusySeconds, pool, roundRobinPosts } from './load.js';
import { startStack } from './stack.js';

/**
 * `npm run bench variants`: the same load delivered under several worker settings, in turns on one
 * running stack (the worker restarted with each variant's environment), so that a change is compared
 * within minutes on the same database and machine, not across runs the machine's drift makes apart.
 *
 * BENCH_VARIANTS: the variants, comma-separated; each is `NAME=value` settings joined by `+`
 * (`DELIVERY_FETCH_GAP_MS=0,DELIVERY_FETCH_GAP_MS=50+DELIVERY_FETCH_LOOPS=1`); an empty one runs the
 * defaults. The load: BENCH_VARIANT_EVENTS (200,000) events over BENCH_VARIANT_ORGS orgs (1,000), round
 * robin, BENCH_VARIANT_PER_POST (200) per POST, 4 POSTs in flight; BENCH_VARIANT_ROUNDS (3) rounds.
 * Each variant's run follows a 20,000-event warm-up of its worker; reported: events/s (first POST to
 * last arrival) and the machine's CPU per 1,000 events, each round's and the median.
 */
export async function benchVariants(): Promise<Record<string, unknown>> {
  const variants = (process.env.BENCH_VARIANTS ?? '').split(',');
  const orgCount = Number(process.env.BENCH_VARIANT_ORGS ?? 1000);
  const perPost = Number(process.env.BENCH_VARIANT_PER_POST ?? 200);
  const events = Number(process.env.BENCH_VARIANT_EVENTS ?? 200_000);
  const rounds = Number(process.env.BENCH_VARIANT_ROUNDS ?? 3);
  const stack = await startStack({ separateWorkers: 1 });
  let worker = stack.workers[0];
  try {
    const keys: string[] = [];
    await pool(Array.from({ length: orgCount }, (_, i) => `variant-org-${i}`), 8, async (org) => {
      await stack.install(org);
      keys.push(await stack.ingestKey(org));
    });
    let runs = 0;
    const burst = async (total: number) => {
      const lane = `run${runs++}`;
      await stack.resetFake();
      const bodies = roundRobinPosts(keys, lane, total, perPost);
      const [busy0, t0] = [machineBusySeconds(), performance.now()];
      await pool(bodies, 4, ({ key, body }) => stack.post(body, key));
      await stack.waitDelivered(bodies.length * perPost, 600_000, lane);
      const n = bodies.length * perPost;
      return { events_per_s: Math.round(n / ((performance.now() - t0) / 1000)), machine_cpu_ms_per_1000_events: Math.round(((machineBusySeconds() - busy0) / n) * 1e6) };
    };
    await burst(40_000); // the stack's first traffic (JIT, pools, each org's key and secret)
    const results = new Map<string, { events_per_s: number; machine_cpu_ms_per_1000_events: number }[]>();
    for (let r = 0; r < rounds; r++) {
      for (const variant of variants) {
        worker.kill('SIGTERM');
        await new Promise((resolve) => worker.once('exit', resolve));
        worker = stack.spawnWorker(Object.fromEntries(variant.split('+').filter(Boolean).map((setting) => setting.split('=') as [string, string])));
        await burst(20_000);
        results.set(variant, [...(results.get(variant) ?? []), await burst(events)]);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    return {
      variants: Object.fromEntries(
        [...results].map(([variant, runsOf]) => [
          variant || '(defaults)',
          {
            events_per_s: median(runsOf.map((x) => x.events_per_s)),
            machine_cpu_ms_per_1000_events: median(runsOf.map((x) => x.machine_cpu_ms_per_1000_events)),
            rounds: runsOf,
          },
        ]),
      ),
      orgs: orgCount,
      events_per_post: perPost,
      events,
    };
  } finally {
    await stack.stop();
  }
}
