import type { Logger } from '../logger.js';
import { databaseTrouble, isDatabaseUnavailable } from './infrastructure-errors.js';

/**
 * Database errors of one process (or delivery thread), written without flooding while PostgreSQL is
 * out of reach: the outage's first error is written at once, the ones after it are counted and
 * summed up at most once per window, and the first success after it writes how long it lasted.
 * Before, a worker wrote three errors with stacks every second for as long as an outage lasted, and
 * nothing when it ended. Any other error (a bug, a constraint) is written as it comes.
 */
export class DatabaseOutageLog {
  private outage?: { since: number; lastError: number; lastWritten: number; errors: number; timer: NodeJS.Timeout };

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = 60_000,
  ) {}

  /** `what` failed with `err`: written, or counted when it is one more error of an outage. */
  error(err: unknown, what: string, now = Date.now()): void {
    if (!isDatabaseUnavailable(err)) {
      this.logger.error({ err }, what);
      return;
    }
    const outage = this.outage;
    // No error for a whole window: the database was back (whoever noticed did not say); a new outage.
    if (!outage || now - outage.lastError >= this.windowMs) {
      if (outage) clearInterval(outage.timer);
      // Where nothing that works says so (the API's own queue only reports errors), the quiet does.
      const timer = setInterval(() => this.check(), this.windowMs).unref();
      this.outage = { since: now, lastError: now, lastWritten: now, errors: 0, timer };
      this.logger.error(
        { err },
        `${what}: the database ${databaseTrouble(err)}; errors like it are counted and written once every ${this.windowMs / 1000} s until it answers again`,
      );
      return;
    }
    outage.lastError = now;
    outage.errors++;
    if (now - outage.lastWritten < this.windowMs) return;
    const seconds = Math.round((now - outage.since) / 1000);
    this.logger.error({ err, down_seconds: seconds, errors: outage.errors }, `${what}: the database ${databaseTrouble(err)}, for ${seconds} s now (${outage.errors} errors like it in the last ${Math.round((now - outage.lastWritten) / 1000)} s)`);
    outage.lastWritten = now;
    outage.errors = 0;
  }

  /** Something just worked: ends an outage, saying how long it lasted. */
  ok(now = Date.now()): void {
    const outage = this.end();
    if (!outage) return;
    const seconds = Math.round((now - outage.since) / 1000);
    this.logger.info({ down_seconds: seconds }, `the database answers again after ${seconds} s`);
  }

  /** Ends an outage that has had no error for a whole window (run by a timer while one lasts). */
  check(now = Date.now()): void {
    const outage = this.outage;
    if (!outage || now - outage.lastError < this.windowMs) return;
    this.end();
    const seconds = Math.round((outage.lastError - outage.since) / 1000);
    this.logger.info({ down_seconds: seconds }, `no database error for ${this.windowMs / 1000} s: the database is back (its errors lasted ${seconds} s)`);
  }

  private end() {
    const outage = this.outage;
    if (outage) clearInterval(outage.timer);
    this.outage = undefined;
    return outage;
  }
}
