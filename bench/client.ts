import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { MixpanelClient } from '../src/destinations/mixpanel/client.js';
import { waitLine } from './stack.js';

/**
 * `npm run bench client`: the delivery client's CPU per Mixpanel request (a 200-event /import body,
 * gzipped, over a kept-alive connection), against node:http sending the same gzipped body with nothing
 * around it. Every small job costs a request of its own, so this is part of what a small POST costs.
 * The answering server runs in its own process, so only the client's CPU is counted; plain HTTP, as
 * TLS costs both the same.
 */
const SERVER = `
const s = require('node:http').createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.setHeader('Content-Type', 'application/json'); res.end('{"code":200,"status":"OK","num_records_imported":200}'); });
});
s.keepAliveTimeout = 60000;
s.listen(0, '127.0.0.1', () => console.log('port ' + s.address().port));`;

/** CPU µs of this process per request, `width` requests in flight: the best of three rounds. */
async function cpuPerRequest(send: () => Promise<void>, n: number, width = 4): Promise<number> {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const c0 = process.cpuUsage();
    let sent = 0;
    await Promise.all(Array.from({ length: width }, async () => {
      while (sent++ < n) await send();
    }));
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / n);
  }
  return Math.round(best);
}

export async function benchClient(): Promise<Record<string, unknown>> {
  const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  const client = new MixpanelClient({ timeoutMs: 30_000, gzipLevel: 1 });
  const agent = new http.Agent({ keepAlive: true });
  try {
    const url = `http://127.0.0.1:${(await waitLine(server, (l) => l.startsWith('port '))).slice(5)}/import`;
    const body = Buffer.from(
      Array.from({ length: 200 }, (_, i) => JSON.stringify({ event: 'Page Viewed', properties: { time: Date.now(), distinct_id: randomUUID(), $insert_id: randomUUID(), i } })).join('\n'),
    );
    const viaClient = async () => {
      const res = await client.post(url, body, 'secret');
      if (res.status !== 200) throw new Error(`the client got ${res.status} ${res.error ?? ''}`);
    };
    const viaNodeHttp = () =>
      new Promise<void>((resolve, reject) => {
        const gzipped = gzipSync(body, { level: 1 });
        const headers = { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Content-Length': gzipped.length, Authorization: 'Basic c2VjcmV0Og==' };
        const req = http.request(url, { method: 'POST', agent, headers }, (res) => res.resume().on('end', resolve));
        req.on('error', reject);
        req.end(gzipped);
      });
    await cpuPerRequest(viaClient, 500); // warm-up
    await cpuPerRequest(viaNodeHttp, 500);
    return {
      client_cpu_us_per_request: await cpuPerRequest(viaClient, 3000),
      node_http_cpu_us_per_request: await cpuPerRequest(viaNodeHttp, 3000),
    };
  } finally {
    client.close();
    agent.destroy();
    server.kill();
  }
}
