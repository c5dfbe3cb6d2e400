import pg from 'pg';
import type { DatabaseOutageLog } from '../shared/database-outage-log.js';
import { JOBS_CHANNEL } from './delivery-queue.js';

/**
 * Wakes a worker's idle fetch loops, one per `wake` (a commit queued due jobs, a batch of this worker
 * finished, a loop found a full batch and more may wait): every loop fetching on every notification
 * made most fetches come back empty, and an empty fetch costs PostgreSQL as much as a full one. A
 * `wake` while no loop waits is kept for the next `wait` (a loop that was fetching meanwhile may not
 * have seen what was just queued). `wait` also ends after `ms` (the sweep for delayed retries and
 * expired jobs).
 */
export class WorkSignal {
  private readonly waiting = new Set<() => void>();
  private pending = false;

  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiting.add(done);
    });
  }

  /** Wakes one waiting loop, or the next one to wait. */
  wake(): void {
    const first = this.waiting.values().next();
    if (first.done) this.pending = true;
    else first.value();
  }

  /** Wakes every waiting loop (stopping). */
  wakeAll(): void {
    for (const done of [...this.waiting]) done();
  }
}

/**
 * LISTENs, on one connection of its own, for the notifications of commits that queued due jobs
 * (DeliveryQueue.enqueue), and wakes the worker. A lost connection is made again after a second;
 * meanwhile the sweep still finds the jobs, only later.
 */
export class JobNotifications {
  private client?: pg.Client;
  private running = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly connectionString: string,
    private readonly databaseLog: DatabaseOutageLog,
  ) {}

  start(onJobs: () => void): void {
    this.running = true;
    void this.connect(onJobs);
  }

  private async connect(onJobs: () => void): Promise<void> {
    if (!this.running) return;
    const client = new pg.Client({ connectionString: this.connectionString });
    this.client = client;
    const again = (err?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      void client.end().catch(() => {});
      if (!this.running) return;
      if (err) this.databaseLog.error(err, 'delivery: lost the job notifications connection (idle workers sweep for jobs until it is back)');
      this.retry = setTimeout(() => void this.connect(onJobs), 1000);
    };
    client.on('error', again);
    client.on('end', () => again());
    client.on('notification', onJobs);
    try {
      await client.connect();
      await client.query(`LISTEN ${JOBS_CHANNEL}`);
      this.databaseLog.ok();
      onJobs(); // jobs may have been queued while it was not listening
    } catch (err) {
      again(err as Error);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
