import { randomUUID } from 'node:crypto';
import knexLib from 'knex';
import { DeliveryQueue } from '../src/delivery/delivery-queue.js';
import { migrationConfig } from '../src/migrations.js';
import { page } from '../test/fixtures/events.js';
import { withScratchDatabases } from './scratch-databases.js';

/**
 * `npm run bench fetch`: what one fetch of the delivery queue costs while one integration has a due
 * backlog (BENCH_FETCH_BACKLOGS jobs, default 0,1000,10000) and its limit of jobs active
 * (DELIVERY_JOBS_PER_INTEGRATION's default, 12): each of 50 fetches finds the one job another
 * integration has just queued. Both the fetch's passes (see DeliveryQueue.fetch) walk the backlog's
 * due jobs to skip them.
 */
const PER_INTEGRATION = 12;
const FETCHES = 50;

export async function benchFetch(): Promise<Record<string, unknown>> {
  const backlogs = (process.env.BENCH_FETCH_BACKLOGS ?? '0,1000,10000').split(',').map(Number);
  return withScratchDatabases('fetch', async (database) => {
    const results: Record<string, number> = {};
    for (const backlog of backlogs) {
      const url = await database();
      const knex = knexLib({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
      try {
        await knex.migrate.latest(migrationConfig);
        const queue = await DeliveryQueue.start(url, knex, { expireInSeconds: 3600, maintenanceSeconds: 3600, poolMax: 4, onError: () => {} });
        try {
          const job = (integrationId: string) => ({ data: { orgId: 'bench', integrationId, events: [page()], attempt: 0, acceptedAt: Date.now() } });
          const noisy = randomUUID();
          for (let n = 0; n < backlog + PER_INTEGRATION; n += 1000) await queue.enqueue(Array.from({ length: Math.min(1000, backlog + PER_INTEGRATION - n) }, () => job(noisy)));
          await queue.fetch(PER_INTEGRATION, PER_INTEGRATION); // the backlog's integration at its limit
          await knex.raw('ANALYZE pgboss.job');
          let ms = 0;
          for (let i = 0; i < FETCHES; i++) {
            const quiet = randomUUID();
            await queue.enqueue([job(quiet)]);
            const t = performance.now();
            const got = await queue.fetch(PER_INTEGRATION, PER_INTEGRATION);
            ms += performance.now() - t;
            if (got.length !== 1 || got[0].data.integrationId !== quiet) throw new Error(`fetch ${i} took ${got.length} jobs, not the quiet integration's one`);
            await queue.complete([got[0].id]);
          }
          results[`fetch_ms_with_${backlog}_jobs_due`] = Math.round((ms / FETCHES) * 100) / 100;
        } finally {
          await queue.stop();
        }
      } finally {
        await knex.destroy();
      }
    }
    return results;
  });
}
