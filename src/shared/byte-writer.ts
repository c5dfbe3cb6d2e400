/**
 * Builds a UTF-8 byte sequence piece by piece in one growing buffer, so large bodies never exist as
 * one large JavaScript string (those are slow to allocate and to convert to bytes).
 */
export class ByteWriter {
  private buf: Buffer;
  length = 0;

  /** Starts in the given buffer (reused memory), or in a new one of this size. */
  constructor(initial: number | Buffer = 64 * 1024) {
    this.buf = typeof initial === 'number' ? Buffer.allocUnsafe(initial) : initial;
  }

  byte(b: number): void {
    if (this.length === this.buf.length) this.grow(this.length + 1);
    this.buf[this.length++] = b;
  }

  /** Appends the text as UTF-8; returns the bytes written. */
  text(s: string): number {
    // A UTF-16 unit is at most 3 bytes of UTF-8.
    if (this.length + s.length * 3 > this.buf.length) {
      const need = this.length + Buffer.byteLength(s);
      if (need > this.buf.length) this.grow(need);
    }
    const n = this.buf.write(s, this.length);
    this.length += n;
    return n;
  }

  append(bytes: Buffer): void {
    if (this.length + bytes.length > this.buf.length) this.grow(this.length + bytes.length);
    this.length += bytes.copy(this.buf, this.length);
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  private grow(atLeast: number): void {
    const next = Buffer.allocUnsafe(Math.max(atLeast, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
}
