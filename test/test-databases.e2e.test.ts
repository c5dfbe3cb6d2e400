import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { BENCH_RUNS, dropAbandonedRunDatabases, takeRunLease, TEST_RUNS, type RunKind } from './support/abandoned-runs.js';

/** The test runs' and benchmarks' own housekeeping on a shared PostgreSQL (DATABASE_URL): what a killed run left. */
describe('databases of a run killed before its teardown', () => {
  const adminUrl = process.env.TEST_PG_ADMIN_URL as string;
  const admin = new pg.Client({ connectionString: adminUrl });
  const clients: pg.Client[] = []; // leases, and a connection to a database
  const made: string[] = [];
  beforeAll(() => admin.connect());
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end()));
    for (const name of made) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  });
  const run = () => randomBytes(4).toString('hex');
  const database = async (kind: RunKind, runId: string, suffix: string) => {
    const name = `${kind.databasePrefix}${runId}_${suffix}`;
    await admin.query(`CREATE DATABASE ${name}`);
    made.push(name);
    return name;
  };
  const exists = async (name: string) => (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;

  it.each([
    ['a test run', TEST_RUNS, BENCH_RUNS],
    ['a benchmark', BENCH_RUNS, TEST_RUNS],
  ])("of %s are dropped by the next one; a live run's are not, nor those something is still connected to, nor another kind's", async (_label, kind, other) => {
    const killed = run();
    const [killedTemplate, killedFile] = [await database(kind, killed, 'template'), await database(kind, killed, 'abc')];
    const live = run();
    clients.push(await takeRunLease(adminUrl, live, kind));
    const liveTemplate = await database(kind, live, 'template');
    const leaseLost = run(); // its lease is gone, but a process of it still works in one of its databases
    const inUse = await database(kind, leaseLost, 'template');
    const user = new pg.Client({ connectionString: Object.assign(new URL(adminUrl), { pathname: `/${inUse}` }).toString() });
    await user.connect();
    clients.push(user);
    const otherKilled = await database(other, run(), 'x');

    const dropped = await dropAbandonedRunDatabases(admin, kind);

    expect(dropped).toEqual(expect.arrayContaining([killedTemplate, killedFile]));
    expect(await exists(killedTemplate)).toBe(false);
    expect(await exists(killedFile)).toBe(false);
    expect(await exists(liveTemplate)).toBe(true);
    expect(await exists(inUse)).toBe(true);
    expect(await exists(otherKilled)).toBe(true);
    // this very run holds its lease: its template stays
    expect(await exists(process.env.TEST_PG_TEMPLATE as string)).toBe(true);
    expect(dropped.filter((d) => d.startsWith(`${TEST_RUNS.databasePrefix}${process.env.TEST_RUN_ID}_`))).toEqual([]);
  });
});
