import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { FakeMixpanel } from '../test/fake-mixpanel/server.js';

/**
 * The stand-in Mixpanel in its own process for the benchmark (so it does not share the load
 * generator's event loop), over TLS like the real one. A small control server reports how many
 * events arrived and, for events carrying `sent_at`, the latency from the POST to arrival; events
 * carrying `lane` (a tenant's name in the tenants benchmark) are also counted by lane.
 */
const [certPath, keyPath, token, secret] = process.argv.slice(2);
const fake = new FakeMixpanel([{ token, apiSecret: secret }], { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') });
let latencies = new Map<string, number[]>();
let lanes = new Map<string, number>();
fake.keepEvents = false;
fake.onEvent = (e, at) => {
  const lane = typeof e.properties.lane === 'string' ? e.properties.lane : '';
  if (lane) lanes.set(lane, (lanes.get(lane) ?? 0) + 1);
  const sent = e.properties.sent_at;
  if (typeof sent !== 'number') return;
  for (const key of lane ? ['', lane] : ['']) {
    const list = latencies.get(key) ?? [];
    list.push(at - sent);
    latencies.set(key, list);
  }
};
await fake.start();

const control = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/reset') {
    fake.reset();
    latencies = new Map();
    lanes = new Map();
    res.end('{}');
    return;
  }
  if (url.pathname === '/fault') {
    // The next requests are answered with these statuses (then back to normal): retries to measure.
    fake.faults.nextStatuses = (url.searchParams.get('next') ?? '').split(',').filter(Boolean).map(Number);
    res.end('{}');
    return;
  }
  const lane = url.searchParams.get('lane') ?? '';
  // Sorting every latency is costly, and the benchmark polls often: only when asked.
  const sorted = url.searchParams.get('latency') === '1' ? [...(latencies.get(lane) ?? [])].sort((a, b) => a - b) : [];
  const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null);
  res.setHeader('Content-Type', 'application/json');
  res.end(
    JSON.stringify({
      events: lane ? (lanes.get(lane) ?? 0) : (fake.state.counts.get(token) ?? 0),
      duplicates: fake.state.duplicates,
      requests: fake.state.requests.length,
      latency: { count: sorted.length, p50: pct(50), p99: pct(99), max: sorted[sorted.length - 1] ?? null },
    }),
  );
});
control.listen(0, '127.0.0.1', () => {
  const port = (control.address() as { port: number }).port;
  process.stdout.write(JSON.stringify({ url: fake.url, control: `http://127.0.0.1:${port}` }) + '\n');
});

// Exit normally on SIGTERM, so a CPU profile (BENCH_PROFILE_DIR) gets written.
process.on('SIGTERM', () => process.exit(0));
// A bench killed outright (SIGKILL) cannot stop it: it goes when its parent does (its parent id changes).
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();
