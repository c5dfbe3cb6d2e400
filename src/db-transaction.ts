import type { Knex } from 'knex';
import type pg from 'pg';

/** Runs SQL with `$1` placeholders: what pg-boss takes as a caller's `db`, so its changes join ours. */
export interface SqlExecutor {
  executeSql(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Statement texts prepared under a name, at most this many (pg-boss builds a handful, our stores fewer). */
const MAX_PREPARED = 500;
const preparedNames = new Map<string, string>();

/**
 * A query config that PostgreSQL parses and plans once per connection: a statement with parameters
 * gets a name of its own (pg prepares it on each connection the first time and reuses it). pg-boss's
 * fetch is a 3 KB statement whose parsing alone took ~0.5 ms each time, and its insert ~0.4 ms — a
 * third of PostgreSQL's CPU per small ingest request. Statements without parameters (pg-boss's
 * multi-statement migrations among them) run as they are.
 */
export function preparedQuery(text: string, values: unknown[] | undefined): pg.QueryConfig {
  if (!values || values.length === 0) return { text, values };
  let name = preparedNames.get(text);
  if (!name && preparedNames.size < MAX_PREPARED) {
    name = `mpd_${preparedNames.size + 1}`;
    preparedNames.set(text, name);
  }
  return name ? { name, text, values } : { text, values };
}

/** Runs `$1` statements on a pool, each prepared once per connection (preparedQuery): pg-boss's own `db`. */
export function poolExecutor(pool: pg.Pool): SqlExecutor {
  return { executeSql: (text, values) => pool.query(preparedQuery(text, values)) };
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
      return connection.query(preparedQuery(text, values));
    },
  };
}

/** Runs `fn` in a knex transaction, with the executor pg-boss's calls take for it. */
export function inTransaction<T>(knex: Knex, fn: (trx: Knex.Transaction, db: SqlExecutor) => Promise<T>): Promise<T> {
  return knex.transaction((trx) => fn(trx, sqlOf(trx)));
}
