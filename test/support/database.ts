import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import pg from 'pg';
import { createKnex } from '../../src/db.js';
import { TEST_RUNS } from './abandoned-runs.js';

export interface TestDatabase {
  url: string;
  knex: Knex;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: process.env.TEST_PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh database, cloned from the migrated, seeded template (or empty): one per test file. */
export async function createTestDatabase(fromTemplate = true): Promise<TestDatabase> {
  const name = `${TEST_RUNS.databasePrefix}${process.env.TEST_RUN_ID}_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}${fromTemplate ? ` TEMPLATE ${process.env.TEST_PG_TEMPLATE}` : ''}`));
  const u = new URL(process.env.TEST_PG_ADMIN_URL as string);
  u.pathname = `/${name}`;
  const knex = createKnex(u.toString(), 5);
  return {
    url: u.toString(),
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
