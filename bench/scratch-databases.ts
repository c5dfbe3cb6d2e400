import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db.js';
import { createLogger } from '../src/logger.js';
import { freePort } from '../test/support/server-process.js';

/**
 * Runs `body` with a maker of empty databases (each one's URL) on `DATABASE_URL`'s server, or on an
 * embedded PostgreSQL under the temp dir; the databases, that PostgreSQL and its folder are removed
 * afterwards. `prefix` names the folder and the databases.
 */
export async function withScratchDatabases<T>(prefix: string, body: (database: () => Promise<string>) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `mpd-bench-${prefix}-`));
  chmodSync(dir, 0o755); // run as root, the embedded PostgreSQL runs as another user
  let adminUrl = process.env.DATABASE_URL;
  let stopPg: (() => Promise<void>) | undefined;
  const created: string[] = [];
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(sql).finally(() => c.end());
  };
  try {
    if (!adminUrl) {
      const embedded = await startEmbeddedPostgres(dir, await freePort(), createLogger('silent'));
      adminUrl = embedded.url;
      stopPg = embedded.stop;
    }
    return await body(async () => {
      const name = `mpd_bench_${prefix}_${randomBytes(4).toString('hex')}`;
      await admin(`CREATE DATABASE ${name}`);
      created.push(name);
      const u = new URL(adminUrl!);
      u.pathname = `/${name}`;
      return u.toString();
    });
  } finally {
    for (const name of created) await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await stopPg?.();
    rmSync(dir, { recursive: true, force: true });
  }
}
