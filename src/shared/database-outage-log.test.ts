import { pino } from 'pino';
import { DatabaseOutageLog } from './database-outage-log.js';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

function capture() {
  const lines: { level: number; msg: string; down_seconds?: number; errors?: number }[] = [];
  const logger = pino({}, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { lines, log: new DatabaseOutageLog(logger, 60_000) };
}

describe('database errors during an outage', () => {
  it('writes the first at once, counts the rest into one line a minute, and says when the database answers again', () => {
    const { lines, log } = capture();
    const t0 = 1_000_000;
    log.error(refused, 'delivery: could not fetch jobs', t0);
    for (let s = 1; s < 60; s++) log.error(refused, 'delivery: could not fetch jobs', t0 + s * 1000);
    expect(lines.map((l) => l.msg)).toEqual([
      'delivery: could not fetch jobs: the database cannot be reached; errors like it are counted and written once every 60 s until it answers again',
    ]);
    log.error(refused, 'job queue error', t0 + 60_000);
    expect(lines[1]).toMatchObject({ level: 50, down_seconds: 60, errors: 60, msg: 'job queue error: the database cannot be reached, for 60 s now (60 errors like it in the last 60 s)' });
    log.ok(t0 + 75_000);
    expect(lines[2]).toMatchObject({ level: 30, down_seconds: 75, msg: 'the database answers again after 75 s' });
    log.ok(t0 + 76_000);
    expect(lines).toHaveLength(3);
  });

  it('ends an outage after a window without errors where nothing that works says so, and starts a new one after it', () => {
    const { lines, log } = capture();
    log.error(refused, 'job queue error', 0);
    log.error(refused, 'job queue error', 5_000);
    log.check(64_000);
    expect(lines).toHaveLength(1);
    log.check(65_000);
    expect(lines[1]).toMatchObject({ level: 30, down_seconds: 5, msg: 'no database error for 60 s: the database is back (its errors lasted 5 s)' });
    log.error(refused, 'job queue error', 70_000);
    log.error(refused, 'job queue error', 200_000); // a window later again, without a check between
    expect(lines.map((l) => l.msg).slice(2)).toEqual([
      'job queue error: the database cannot be reached; errors like it are counted and written once every 60 s until it answers again',
      'job queue error: the database cannot be reached; errors like it are counted and written once every 60 s until it answers again',
    ]);
    log.ok(200_001);
  });

  it('writes every other error as it comes, and a full pool as what it is', () => {
    const { lines, log } = capture();
    const bug = new TypeError('x is undefined');
    log.error(bug, 'delivery: could not fetch jobs', 0);
    log.error(bug, 'delivery: could not fetch jobs', 1);
    const full = Object.assign(new Error('Knex: Timeout acquiring a connection.'), { name: 'KnexTimeoutError' });
    log.error(full, 'delivery: could not prune logs', 2);
    expect(lines.map((l) => l.msg)).toEqual([
      'delivery: could not fetch jobs',
      'delivery: could not fetch jobs',
      'delivery: could not prune logs: the database gave no connection in time (all in use, or slow to connect); errors like it are counted and written once every 60 s until it answers again',
    ]);
    log.ok(3);
    expect(lines).toHaveLength(4);
  });
});
