/**
 * Keeps large buffers for reuse. Memory fresh from the OS is slow to touch the first time (a page
 * fault per 4 KB, which showed up as a tenth of the worker's time), so request and job bodies are
 * built in buffers that earlier ones used.
 */
export class BufferPool {
  private readonly spare: Buffer[] = [];

  constructor(
    readonly bytes: number,
    private readonly keep: number,
  ) {}

  take(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafe(this.bytes);
  }

  /** Give back only what nothing reads any more. */
  give(buf: Buffer): void {
    if (buf.length === this.bytes && this.spare.length < this.keep) this.spare.push(buf);
  }
}

/**
 * Buffers taken from a pool by one owner (a job body being encoded, a batch's request bodies) and given
 * back together, once, when the owner says nothing reads them any more.
 */
export class BufferLeases {
  private readonly held: Buffer[] = [];

  constructor(private readonly pool: BufferPool) {}

  /** A buffer of `bytes` (the pool's size comes from the pool, any other is allocated). */
  take(bytes = this.pool.bytes): Buffer {
    const buf = bytes === this.pool.bytes ? this.pool.take() : Buffer.allocUnsafe(bytes);
    this.held.push(buf);
    return buf;
  }

  /** Gives every buffer taken back to the pool; calling it again does nothing. */
  releaseAll(): void {
    for (const buf of this.held.splice(0)) this.pool.give(buf);
  }
}

/** Buffers for request bodies (≤ 2 MB) and job payloads, shared by everything on this thread (each delivery thread has its own). */
export const bodyBuffers = new BufferPool(2 * 1024 * 1024, 16);
