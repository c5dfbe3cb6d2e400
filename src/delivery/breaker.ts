/** What one batch said about the destination: it worked, it failed transiently (429/5xx/timeouts), or neither. */
export type BatchHealth = 'ok' | 'transient' | 'other';

/**
 * A circuit breaker for one integration's destination. After `threshold` batches in a row failed
 * transiently, Mixpanel is taken to be down for this integration: it opens, and lets one batch
 * through per `probeMs` (a probe) while every other is held without spending its attempts. The first
 * batch that gets through closes it, and the backlog drains at full speed.
 */
export class Breaker {
  private failures = 0;
  private openedAt?: number;
  private nextProbeAt = 0;

  constructor(
    private readonly threshold: number,
    private readonly probeMs: number,
  ) {}

  get open(): boolean {
    return this.openedAt !== undefined;
  }

  get since(): Date | undefined {
    return this.openedAt === undefined ? undefined : new Date(this.openedAt);
  }

  /** When held batches are looked at again (the next probe). */
  get probeAt(): Date {
    return new Date(this.nextProbeAt);
  }

  /** Whether a batch may be sent now: always while closed; while open, the first one each probe interval. */
  allow(now = Date.now()): boolean {
    if (!this.open) return true;
    if (now < this.nextProbeAt) return false;
    this.nextProbeAt = now + this.probeMs;
    return true;
  }

  /** Counts a batch's outcome; says when that opened or closed the breaker. */
  record(health: BatchHealth, now = Date.now()): 'opened' | 'closed' | undefined {
    if (health === 'transient') {
      this.failures++;
      if (!this.open && this.failures >= this.threshold) {
        this.openedAt = now;
        this.nextProbeAt = now + this.probeMs;
        return 'opened';
      }
      return undefined;
    }
    if (health === 'other') return undefined; // says nothing about whether Mixpanel is up
    this.failures = 0;
    if (!this.open) return undefined;
    this.openedAt = undefined;
    return 'closed';
  }
}
