import { Worker } from 'node:worker_threads';
import type { Config } from './config.js';
import type { MetricsJson } from './delivery/metrics.js';
import type { Logger } from './logger.js';

/** What a delivery thread is started with: the parent's configuration, not the environment read again. */
export interface ThreadData {
  config: Config;
  databaseUrl: string;
}

/** Messages to a delivery thread. */
export type ToThread = { type: 'metrics'; id: number } | { type: 'stop' };
/** Messages from a delivery thread. */
export type FromThread = { type: 'metrics'; id: number; metrics: MetricsJson };

/**
 * The thread's entry module. From the build (dist/, `npm start`) it is plain JavaScript. From source
 * (tests, `npm run dev`) worker threads do not inherit tsx's loader (`node --import tsx`): the thread
 * registers it, then loads its entry module.
 */
function threadEntry(): { code: string; eval: boolean } | { file: URL; eval: false } {
  if (import.meta.url.endsWith('.js')) return { file: new URL('./delivery-thread.js', import.meta.url), eval: false };
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./delivery-thread.ts', import.meta.url).href;
  return { code: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`, eval: true };
}

/** A thread that dies is started again after 1 s, doubling while it keeps dying young, up to 30 s. */
const RESTART_MS = 1000;
const RESTART_MAX_MS = 30_000;
/** A thread that ran this long died of something new: the next restart waits RESTART_MS again. */
const HEALTHY_MS = 60_000;
/**
 * A smaller young generation than V8's default keeps the server (API and delivery in one process)
 * well under 512 MB at 30,000 events/s, at no measured cost in throughput (README, benchmarks); the
 * API's event loop gets the same through --max-semi-space-size in `npm start`.
 */
const YOUNG_GENERATION_MB = 16;
const METRICS_WAIT_MS = 1000;

/**
 * Delivery on worker threads inside the server process. Each thread runs a delivery worker with its
 * own connections, as a separate `npm run worker` process would, so delivery gets a core of its own
 * instead of sharing the event loop that accepts events and serves the API. A thread that dies is
 * started again; the jobs it held come back to the queue when they expire.
 */
export class DeliveryThreads {
  private stopping = false;
  private readonly threads = new Set<Worker>();
  private readonly waiting = new Map<number, (metrics: MetricsJson) => void>();
  private lastId = 0;
  private restartMs = RESTART_MS;

  constructor(
    private readonly count: number,
    private readonly config: Config,
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  start(): void {
    for (let i = 0; i < this.count; i++) this.spawn();
  }

  private spawn(): void {
    const started = Date.now();
    const entry = threadEntry();
    const thread = new Worker('code' in entry ? entry.code : entry.file, {
      eval: entry.eval,
      workerData: { config: this.config, databaseUrl: this.databaseUrl } satisfies ThreadData,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    this.threads.add(thread);
    thread.on('message', (m: FromThread) => {
      this.waiting.get(m.id)?.(m.metrics);
      this.waiting.delete(m.id);
    });
    thread.on('error', (err) => this.logger.error({ err }, 'delivery thread failed'));
    thread.on('exit', (code) => {
      this.threads.delete(thread);
      if (this.stopping) return;
      if (Date.now() - started >= HEALTHY_MS) this.restartMs = RESTART_MS;
      const delay = this.restartMs;
      this.restartMs = Math.min(this.restartMs * 2, RESTART_MAX_MS);
      this.logger.error({ code }, `delivery thread ended; starting another in ${delay} ms`);
      setTimeout(() => this.stopping || this.spawn(), delay).unref();
    });
  }

  /** The delivery counters of each live thread; one that does not answer within a second is left out. */
  async metrics(): Promise<MetricsJson[]> {
    const answers = await Promise.all([...this.threads].map((t) => this.askMetrics(t)));
    return answers.filter((m): m is MetricsJson => m !== undefined);
  }

  private askMetrics(thread: Worker): Promise<MetricsJson | undefined> {
    const id = ++this.lastId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, METRICS_WAIT_MS);
      this.waiting.set(id, (metrics) => {
        clearTimeout(timer);
        resolve(metrics);
      });
      thread.postMessage({ type: 'metrics', id } satisfies ToThread);
    });
  }

  /** Each thread finishes the batches it has in flight and closes its connections; one that takes too long is ended. */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.threads].map(
        (thread) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void thread.terminate(), timeoutMs);
            thread.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            thread.postMessage({ type: 'stop' } satisfies ToThread);
          }),
      ),
    );
  }
}
