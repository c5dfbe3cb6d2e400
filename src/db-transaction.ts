import type { Knex } from 'knex';
import type pg from 'pg';

/** Runs SQL with `$1` placeholders: what pg-boss takes as a caller's `db`, so its changes join ours. */
export interface SqlExecutor {
  executeSql(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * One PostgreSQL transaction shared by our own statements and pg-boss's (which takes a `db` executor
 * speaking `$1` placeholders), so queue changes commit or roll back with the rows they belong to.
 */
export async function pgTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient, db: SqlExecutor) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const db: SqlExecutor = { executeSql: (text, values) => client.query(text, values) };
  try {
    await client.query('BEGIN');
    const result = await fn(client, db);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Runs a knex-built statement on a plain pg client (inside such a transaction). */
export async function exec(client: pg.PoolClient, qb: Knex.QueryBuilder | Knex.Raw): Promise<pg.QueryResult> {
  const { sql, bindings } = qb.toSQL().toNative();
  return client.query(sql, bindings as unknown[]);
}
