import { randomUUID } from 'node:crypto';
import Mixpanel from 'mixpanel';
import { cpuSeconds, rssMb, SECRET, sleep, startStack, TOKEN } from './stack.js';

/**
 * End to end on this machine: POST /v1/events → PostgreSQL → worker → gzip batches → the stand-in
 * Mixpanel over TLS on loopback, then the same events through the official `mixpanel` library's
 * import_batch to the same stand-in.
 */

/** A ~1 KB page event. */
function event(i: number, sentAt: number) {
  return {
    type: 'page',
    name: 'Product',
    anonymousId: randomUUID(),
    userId: i % 3 === 0 ? `user-${i % 5000}` : undefined,
    messageId: randomUUID(),
    timestamp: new Date().toISOString(),
    properties: {
      sent_at: sentAt,
      category: 'Shoes',
      product_id: `P-${i % 1000}`,
      price: 49.99,
      description: 'Red running shoes with a breathable mesh upper and a cushioned sole for long distances.',
      details: 'Lightweight, reflective details for running at dusk; recycled laces; sizes 36 to 47; free returns within 30 days.',
      collection: 'Spring / Summer 2026',
    },
    context: {
      page: {
        url: `https://shop.example.com/products/${i % 1000}?utm_source=newsletter`,
        path: `/products/${i % 1000}`,
        referrer: 'https://www.google.com/search?q=red+running+shoes',
        title: 'Red Running Shoes | Example Shop',
        search: '?utm_source=newsletter',
      },
      userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      ip: '203.0.113.9',
      locale: 'en-GB',
      campaign: { source: 'newsletter', medium: 'email', name: 'spring_sale' },
    },
  };
}

/**
 * The same event as JSON text, built from a template split around its variable parts: the load
 * generator then spends its CPU on sending, not on building and serialising objects.
 */
const templates = new Map<boolean, string[]>();
const SLOTS = ['@ANON@', '@USER@', '@MSG@', '@TS@', '@SENT@', '@N@'];
function eventJson(i: number, sentAt: number): string {
  const withUser = i % 3 === 0;
  let parts = templates.get(withUser);
  if (!parts) {
    const e = event(0, 0) as Record<string, unknown> & { properties: Record<string, unknown>; context: { page: Record<string, unknown> } };
    Object.assign(e, { anonymousId: '@ANON@', userId: withUser ? '@USER@' : undefined, messageId: '@MSG@', timestamp: '@TS@' });
    Object.assign(e.properties, { sent_at: '@SENT@', product_id: 'P-@N@' });
    Object.assign(e.context.page, { url: 'https://shop.example.com/products/@N@?utm_source=newsletter', path: '/products/@N@' });
    parts = JSON.stringify(e).replace('"@SENT@"', '@SENT@').split(new RegExp(`(${SLOTS.join('|')})`));
    templates.set(withUser, parts);
  }
  const ts = new Date(sentAt).toISOString();
  let out = parts[0];
  // split() with a capture group puts the slot names at the odd indices
  for (let k = 1; k < parts.length; k += 2) {
    const slot = parts[k];
    out +=
      slot === '@ANON@' || slot === '@MSG@' ? randomUUID() : slot === '@USER@' ? `user-${i % 5000}` : slot === '@TS@' ? ts : slot === '@SENT@' ? String(sentAt) : String(i % 1000);
    out += parts[k + 1];
  }
  return out;
}

export async function benchDelivery(opts: { events?: number; latencySeconds?: number; separateWorkers?: number } = {}): Promise<Record<string, unknown>> {
  const N = opts.events ?? 200_000;
  const separateWorkers = opts.separateWorkers ?? 0;
  const stack = await startStack({ separateWorkers });
  const { service, workers } = stack;
  try {
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(service.pid!), ...workers.map((w) => rssMb(w.pid!)))), 250);
    await stack.install('bench', 'Bench');
    const ingestKey = await stack.ingestKey('bench');
    const bodyOf = (count: number, offset: number) => `{"events":[${Array.from({ length: count }, (_, i) => eventJson(offset + i, Date.now())).join(',')}]}`;
    const post = (body: string | Buffer) => stack.post(body, ingestKey);
    const { waitDelivered, resetFake } = stack;
    const eventBytes = Buffer.byteLength(JSON.stringify(event(1, Date.now())));

    // Bodies are built before the clock starts (and before the warm-up, so no kept-alive connection
    // sits idle long enough to be closed), so the load generator's CPU goes to sending.
    const bodies = Array.from({ length: Math.ceil(N / 1000) }, (_, k) => Buffer.from(bodyOf(1000, 1000 + k * 1000)));

    // Warm-up: enough events for every process to have its hot paths compiled by the optimising JIT,
    // so the clock measures the rate the service sustains, not its first seconds.
    const warmup = Number(process.env.BENCH_WARMUP_EVENTS ?? 20_000);
    for (let k = 0; k < warmup / 1000; k += 4) await Promise.all([0, 1, 2, 3].map((j) => post(bodyOf(1000, (k + j) * 1000))));
    await waitDelivered(Math.ceil(warmup / 4000) * 4000, 60000);
    await resetFake();

    // 1. Throughput: N events, 1000 per POST, 4 POSTs in flight.
    const cpu = () => ({
      service: cpuSeconds((_c, pid) => pid === service.pid || workers.some((w) => w.pid === pid)),
      ...(workers.length > 0 ? { api: cpuSeconds((_c, pid) => pid === service.pid), workers: cpuSeconds((_c, pid) => workers.some((w) => w.pid === pid)) } : {}),
      mixpanel: cpuSeconds((_c, pid) => pid === stack.fakePid),
      postgres: cpuSeconds((c) => c.startsWith('postgres')),
      load: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    });
    const cpu0 = cpu();
    const t0 = performance.now();
    const ingestDone = (async () => {
      const lanes = Array.from({ length: 4 }, async () => {
        for (let body = bodies.pop(); body; body = bodies.pop()) await post(body);
      });
      await Promise.all(lanes);
      return performance.now() - t0;
    })();
    const ingestMs = await ingestDone;
    const throughput = await waitDelivered(N, 300_000);
    const e2eMs = performance.now() - t0;
    const cpu1 = cpu();
    const cpuShare = Object.fromEntries(
      Object.entries(cpu1).map(([k, v]) => [`e2e_cpu_${k}_cores`, Math.round(((v - (cpu0[k as keyof typeof cpu0] ?? 0)) / (e2eMs / 1000)) * 100) / 100]),
    );
    const throughputRss = peakRss;
    await resetFake();

    if (process.env.BENCH_THROUGHPUT_ONLY) {
      clearInterval(sampler);
      return { e2e_ingest_events_per_s: Math.round(N / (ingestMs / 1000)), e2e_delivered_events_per_s: Math.round(N / (e2eMs / 1000)), e2e_peak_rss_mb: Math.round(peakRss), ...cpuShare };
    }

    /** Posts `perPost` events at a time at `rate` events/s for `seconds`; every POST answered. */
    const offer = async (rate: number, seconds: number, perPost: number) => {
      const start = Date.now();
      const answers: Promise<void>[] = [];
      let posted = 0;
      while (posted < rate * seconds) {
        const due = start + (posted / rate) * 1000;
        if (Date.now() < due) await sleep(due - Date.now());
        answers.push(post(bodyOf(perPost, posted)));
        posted += perPost;
      }
      await Promise.all(answers);
      return { posted, start, postedMs: Date.now() - start };
    };

    // 2. Sustained: 30,000 events/s offered for 10 s, 1000 per POST. Delivery keeps pace when every
    // event is at Mixpanel shortly after the last POST (drain) and latency stays low throughout.
    const sustainRate = Number(process.env.BENCH_SUSTAIN_RATE ?? 30_000);
    const sustained = await offer(sustainRate, 10, 1000);
    const sustainLat = await waitDelivered(sustained.posted, 120_000);
    const sustainMs = Date.now() - sustained.start;
    await resetFake();

    // 3. Latency at 5,000 events/s: 100 events every 20 ms.
    const latency = await offer(5000, opts.latencySeconds ?? 20, 100);
    const posted = latency.posted;
    const lat = await waitDelivered(posted, 60_000);
    clearInterval(sampler);
    await resetFake();

    // 4. The official library, same events (already mapped by hand the way the library expects).
    // Our service verified the stand-in's certificate (NODE_EXTRA_CA_CERTS); the library makes its own
    // agent, which only a process-wide switch reaches, so it skips verification (slightly in its favour).
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    // The library's typings miss `port` and type import_batch's events as strings.
    const libConfig = { secret: SECRET, host: '127.0.0.1', port: Number(new URL(stack.fakeUrl).port), protocol: 'https', keepAlive: true };
    const lib = Mixpanel.init(TOKEN, libConfig as Parameters<typeof Mixpanel.init>[1]);
    const importBatch = lib.import_batch.bind(lib) as unknown as (events: unknown[], options: object, cb: () => void) => void;
    const libEvents = Array.from({ length: N }, (_, i) => {
      const e = event(i, Date.now());
      return {
        event: 'Page Viewed',
        properties: { ...e.properties, distinct_id: e.userId ?? e.anonymousId, $insert_id: e.messageId, time: Date.now(), $current_url: e.context.page.url, $referrer: e.context.page.referrer, ip: e.context.ip },
      };
    });
    const tLib = performance.now();
    await new Promise<void>((resolve) => importBatch(libEvents, { max_concurrent_requests: 10 }, () => resolve()));
    await waitDelivered(N, 300_000);
    const libMs = performance.now() - tLib;

    const ours = Math.round(N / (e2eMs / 1000));
    const theirs = Math.round(N / (libMs / 1000));
    return {
      e2e_event_bytes: eventBytes,
      e2e_events: N,
      e2e_delivery: separateWorkers
        ? `${separateWorkers} npm run worker process(es)`
        : process.env.DELIVERY_THREADS === '0'
          ? "on the API process's event loop"
          : `${process.env.DELIVERY_THREADS ?? 1} delivery thread(s) in the API process`,
      e2e_ingest_events_per_s: Math.round(N / (ingestMs / 1000)),
      e2e_delivered_events_per_s: ours,
      e2e_duplicates_seen_by_mixpanel: throughput.duplicates,
      e2e_requests_to_mixpanel: throughput.requests,
      e2e_peak_rss_mb: Math.round(Math.max(throughputRss, peakRss)),
      ...cpuShare,
      sustain_offered_events_per_s: sustainRate,
      sustain_events: sustained.posted,
      sustain_accepted_events_per_s: Math.round(sustained.posted / (sustained.postedMs / 1000)),
      sustain_drain_after_last_post_ms: sustainMs - sustained.postedMs,
      sustain_duplicates_seen_by_mixpanel: sustainLat.duplicates,
      sustain_latency_p50_ms: sustainLat.latency.p50,
      sustain_latency_p99_ms: sustainLat.latency.p99,
      sustain_latency_max_ms: sustainLat.latency.max,
      latency_rate_events_per_s: 5000,
      latency_events: posted,
      latency_p50_ms: lat.latency.p50,
      latency_p99_ms: lat.latency.p99,
      latency_max_ms: lat.latency.max,
      mixpanel_lib_import_batch_events_per_s: theirs,
      ratio_ours_to_lib: Math.round((ours / theirs) * 10) / 10,
    };
  } finally {
    await stack.stop();
  }
}
