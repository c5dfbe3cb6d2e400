import { benchClient } from './client.js';
import { benchDelivery } from './delivery.js';
import { benchFetch } from './fetch.js';
import { benchIngestChecks } from './ingest.js';
import { benchMapping } from './mapping.js';
import { benchQueues } from './queues.js';
import { benchTenants } from './tenants.js';
import { benchVariants } from './variants.js';

/**
 * `npm run bench`: the mapping, ingest and delivery benchmarks; `npm run bench tenants` the platform
 * scale one (minutes: it installs BENCH_TENANTS integrations); `npm run bench queues` compares the job
 * queue libraries; `npm run bench client` the delivery client's CPU per Mixpanel request; `npm run bench variants` the
 * same load under several worker settings in turns; `npm run bench fetch` one delivery fetch's cost
 * against a due backlog. Figures as JSON, for the README.
 */
async function main() {
  const only = process.argv[2];
  const results: Record<string, unknown> = { node: process.version, date: new Date().toISOString() };
  if (!only || only === 'mapping') Object.assign(results, benchMapping());
  if (!only || only === 'ingest') Object.assign(results, benchIngestChecks());
  if (!only || only === 'delivery') Object.assign(results, await benchDelivery({ events: Number(process.env.BENCH_EVENTS ?? 200_000), separateWorkers: Number(process.env.BENCH_WORKERS ?? 0) }));
  if (only === 'client') Object.assign(results, await benchClient());
  if (only === 'tenants') Object.assign(results, await benchTenants());
  if (only === 'queues') Object.assign(results, await benchQueues());
  if (only === 'fetch') Object.assign(results, await benchFetch());
  if (only === 'variants') Object.assign(results, await benchVariants());
  console.log(JSON.stringify(results, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
