import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Bounds the requests in flight for one integration. The limit adapts: it halves on a 429 and grows
 * by one per success up to its ceiling (additive increase, multiplicative decrease), and a pause
 * holds every new request back until Mixpanel's back-off time has passed.
 */
export class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private pausedUntil = 0;
  limit: number;

  constructor(readonly ceiling: number) {
    this.limit = ceiling;
  }

  get inFlight(): number {
    return this.active;
  }

  async acquire(): Promise<void> {
    for (;;) {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) await sleep(wait);
      if (this.active < this.limit) {
        this.active++;
        return;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  release(): void {
    this.active--;
    this.waiting.shift()?.();
  }

  rateLimited(pauseMs: number): void {
    this.limit = Math.max(1, Math.floor(this.limit / 2));
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + pauseMs);
  }

  succeeded(): void {
    if (this.limit < this.ceiling) {
      this.limit++;
      this.waiting.shift()?.();
    }
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}
