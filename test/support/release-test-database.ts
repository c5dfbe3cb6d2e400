import { rmSync } from 'node:fs';
import type pg from 'pg';
import { TEST_RUNS, withClient } from './abandoned-runs.js';

/** Drops this run's databases (and no other run's), ends its lease, stops the embedded PostgreSQL, removes its folder. */
export default async function releaseTestDatabase(): Promise<void> {
  await withClient(process.env.TEST_PG_ADMIN_URL as string, async (admin) => {
    const dbs = await admin.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [`${TEST_RUNS.databasePrefix}${process.env.TEST_RUN_ID}_`]);
    for (const row of dbs.rows) await admin.query(`DROP DATABASE IF EXISTS "${row.datname}" WITH (FORCE)`);
  });
  await ((globalThis as Record<string, unknown>).__runLease as pg.Client | undefined)?.end();
  const embedded = (globalThis as Record<string, unknown>).__embeddedPg as { stop(): Promise<void> } | undefined;
  await embedded?.stop();
  if (process.env.TEST_PG_DIR) rmSync(process.env.TEST_PG_DIR, { recursive: true, force: true });
}
