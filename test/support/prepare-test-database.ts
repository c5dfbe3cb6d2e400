import { randomBytes } from 'node:crypto';
import { createKnex, startEmbeddedPostgres } from '../../src/db.js';
import { createLogger } from '../../src/logger.js';
import { prepareDatabase } from '../../src/services.js';
import { freePort } from './server-process.js';
import { DeliveryQueue } from '../../src/delivery/delivery-queue.js';
import { databaseUrl, dropAbandonedRunDatabases, freshRunFolder, takeRunLease, TEST_RUNS, withClient } from './abandoned-runs.js';

const TEST_PG_PREFIX = 'mpd-test-pg-';

/**
 * Uses DATABASE_URL's server when set (CI), otherwise starts an embedded PostgreSQL for this run (in a
 * temporary folder that the teardown removes). Builds one migrated, seeded template database; each
 * test file clones it (CREATE DATABASE … TEMPLATE). Every database of this run is named with this
 * run's id, so two runs on one server never drop each other's databases; the databases that runs
 * killed before their teardown left on the server are dropped first (see abandoned-runs).
 */
export default async function prepareTestDatabase(): Promise<void> {
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const dir = await freshRunFolder(TEST_PG_PREFIX);
    process.env.TEST_PG_DIR = dir;
    const embedded = await startEmbeddedPostgres(dir, await freePort(), createLogger('silent'));
    (globalThis as Record<string, unknown>).__embeddedPg = embedded;
    adminUrl = embedded.url;
  }
  const runId = randomBytes(4).toString('hex');
  const template = `${TEST_RUNS.databasePrefix}${runId}_template`;
  (globalThis as Record<string, unknown>).__runLease = await takeRunLease(adminUrl, runId);
  await withClient(adminUrl, async (admin) => {
    await dropAbandonedRunDatabases(admin);
    await admin.query(`CREATE DATABASE ${template}`);
  });
  const templateUrl = databaseUrl(adminUrl, template);
  const knex = createKnex(templateUrl, 1);
  await prepareDatabase(knex, templateUrl);
  // pg-boss's schema, once, in the template
  const queue = await DeliveryQueue.start(templateUrl, knex, { expireInSeconds: 60, maintenanceSeconds: 30, poolMax: 2, onError: () => {} });
  await queue.stop();
  await knex.destroy();
  process.env.TEST_PG_ADMIN_URL = adminUrl;
  process.env.TEST_PG_TEMPLATE = template;
  process.env.TEST_RUN_ID = runId;
}
