import type { Knex } from 'knex';
import type pg from 'pg';

/** Runs SQL with `$1` placeholders: what pg-boss takes as a caller's `db`, so its changes join ours. */
export interface SqlExecutor {
  executeSql(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * The one transaction type of every store: a knex transaction. What pg-boss runs in it (statements
 * with `$1` placeholders, which knex's raw would not take) goes straight to the transaction's own
 * connection, so queue changes commit or roll back with the rows they belong to.
 */
export function sqlOf(trx: Knex.Transaction): SqlExecutor {
  return {
    async executeSql(text, values) {
      // A transaction's client hands out its one connection (knex binds it to the transaction).
      const connection = (await trx.client.acquireConnection()) as pg.PoolClient;
      return connection.query(text, values);
    },
  };
}

/** Runs `fn` in a knex transaction, with the executor pg-boss's calls take for it. */
export function inTransaction<T>(knex: Knex, fn: (trx: Knex.Transaction, db: SqlExecutor) => Promise<T>): Promise<T> {
  return knex.transaction((trx) => fn(trx, sqlOf(trx)));
}
