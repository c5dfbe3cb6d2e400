import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type pg from 'pg';
import { createKnex } from '../../src/db.js';
import { databaseUrl, TEST_RUNS, withClient } from './abandoned-runs.js';

export interface TestDatabase {
  url: string;
  knex: Knex;
  drop(): Promise<void>;
}

const admin = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withClient(process.env.TEST_PG_ADMIN_URL as string, fn);

/** A fresh database, cloned from the migrated, seeded template (or empty): one per test file. */
export async function createTestDatabase(fromTemplate = true): Promise<TestDatabase> {
  const name = `${TEST_RUNS.databasePrefix}${process.env.TEST_RUN_ID}_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}${fromTemplate ? ` TEMPLATE ${process.env.TEST_PG_TEMPLATE}` : ''}`));
  const url = databaseUrl(process.env.TEST_PG_ADMIN_URL as string, name);
  const knex = createKnex(url, 5);
  return {
    url,
    knex,
    async drop() {
      await knex.destroy();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** An empty database (no migrations), for migration tests. */
export function createEmptyDatabase(): Promise<TestDatabase> {
  return createTestDatabase(false);
}
