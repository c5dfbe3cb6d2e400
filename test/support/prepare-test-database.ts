import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createKnex, startEmbeddedPostgres } from '../../src/db.js';
import { createLogger } from '../../src/logger.js';
import { prepareDatabase } from '../../src/services.js';
import { freePort } from './server-process.js';
import { DeliveryQueue } from '../../src/delivery/delivery-queue.js';
import { dropAbandonedRunDatabases, removeAbandonedFolders, takeRunLease, TEST_RUNS } from './abandoned-runs.js';

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
    await removeAbandonedFolders(TEST_PG_PREFIX);
    const dir = mkdtempSync(path.join(os.tmpdir(), TEST_PG_PREFIX));
    process.env.TEST_PG_DIR = dir;
    chmodSync(dir, 0o755); // the postgres OS user must reach it when tests run as root
    const embedded = await startEmbeddedPostgres(dir, await freePort(), createLogger('silent'));
    (globalThis as Record<string, unknown>).__embeddedPg = embedded;
    adminUrl = embedded.url;
  }
  const runId = randomBytes(4).toString('hex');
  const template = `${TEST_RUNS.databasePrefix}${runId}_template`;
  (globalThis as Record<string, unknown>).__runLease = await takeRunLease(adminUrl, runId);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await dropAbandonedRunDatabases(admin);
    await admin.query(`CREATE DATABASE ${template}`);
  } finally {
    await admin.end();
  }
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${template}`;
  const knex = createKnex(templateUrl.toString(), 1);
  await prepareDatabase(knex, templateUrl.toString());
  // pg-boss's schema, once, in the template
  const queue = await DeliveryQueue.start(templateUrl.toString(), knex, { expireInSeconds: 60, maintenanceSeconds: 30, poolMax: 2, onError: () => {} });
  await queue.stop();
  await knex.destroy();
  process.env.TEST_PG_ADMIN_URL = adminUrl;
  process.env.TEST_PG_TEMPLATE = template;
  process.env.TEST_RUN_ID = runId;
}
