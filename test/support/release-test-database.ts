import pg from 'pg';

export default async function releaseTestDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: process.env.TEST_PG_ADMIN_URL });
  await admin.connect();
  const dbs = await admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'mpd\\_t\\_%' OR datname = $1", [
    process.env.TEST_PG_TEMPLATE,
  ]);
  for (const row of dbs.rows) await admin.query(`DROP DATABASE IF EXISTS "${row.datname}" WITH (FORCE)`);
  await admin.end();
  const embedded = (globalThis as Record<string, unknown>).__embeddedPg as { stop(): Promise<void> } | undefined;
  await embedded?.stop();
}
