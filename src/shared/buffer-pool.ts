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

/** Buffers for request bodies (≤ 2 MB) and job payloads, shared by everything on this thread (each delivery thread has its own). */
export const bodyBuffers = new BufferPool(2 * 1024 * 1024, 16);
