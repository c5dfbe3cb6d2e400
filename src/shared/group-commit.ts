interface Waiting<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Commits what concurrent callers submit in shared rounds: while `concurrency` rounds are running,
 * what callers submit waits and goes into the next round together (one transaction and one commit for
 * up to `maxItems` of them), so under load the per-commit statements are paid once per round rather
 * than once per caller, and with no load a caller's round starts at once. Each caller's promise settles
 * when its own item has committed (or failed).
 *
 * A round of several that fails is run again item by item: an item that makes the round fail fails
 * only its own caller, and its neighbours commit. Unless `alone` says the failure is not an item's
 * (the database is unreachable, say): then every caller of the round gets it at once, rather than
 * each waiting in turn to fail the same way.
 */
export class GroupCommit<T> {
  private waiting: Waiting<T>[] = [];
  private running = 0;

  constructor(
    private readonly commit: (items: T[]) => Promise<void>,
    private readonly opts: { concurrency: number; maxItems: number; alone?: (err: unknown) => boolean },
  ) {}

  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.startRounds();
    });
  }

  private startRounds(): void {
    while (this.running < this.opts.concurrency && this.waiting.length > 0) {
      const round = this.waiting.splice(0, this.opts.maxItems);
      this.running++;
      void this.run(round).finally(() => {
        this.running--;
        this.startRounds();
      });
    }
  }

  private async run(round: Waiting<T>[]): Promise<void> {
    try {
      await this.commit(round.map((w) => w.item));
      for (const w of round) w.resolve();
      return;
    } catch (err) {
      if (round.length === 1 || this.opts.alone?.(err) === false) {
        for (const w of round) w.reject(err);
        return;
      }
    }
    for (const w of round) {
      try {
        await this.commit([w.item]);
        w.resolve();
      } catch (err) {
        w.reject(err);
      }
    }
  }
}
