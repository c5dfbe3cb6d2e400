/**
 * Finds where the elements of a JSON array lie in its bytes without parsing them, so each can be
 * parsed on its own (small strings instead of one large one). Values are not validated: JSON.parse
 * of each element does that. Anything unexpected between elements gives up (undefined).
 */
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

const isSpace = (c: number) => c === SPACE || c === LF || c === CR || c === TAB;

export function skipSpace(b: Buffer, i: number): number {
  while (i < b.length && isSpace(b[i])) i++;
  return i;
}

/**
 * Index just past the string starting at i (a quote), or -1. Jumps from quote to quote with indexOf
 * (native, much faster than a byte loop); a quote preceded by an odd run of backslashes is escaped.
 */
function endOfString(b: Buffer, i: number): number {
  for (;;) {
    const q = b.indexOf(QUOTE, i + 1);
    if (q < 0) return -1;
    let k = q - 1;
    while (b[k] === BACKSLASH) k--; // stops at the opening quote at the latest
    if ((q - 1 - k) % 2 === 0) return q + 1;
    i = q;
  }
}

/** Index just past the JSON value starting at i, or -1. */
function endOfValue(b: Buffer, i: number): number {
  let depth = 0;
  while (i < b.length) {
    const c = b[i];
    if (c === QUOTE) {
      i = endOfString(b, i);
      if (i < 0 || depth === 0) return i;
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === 0) return i; // a number, true, false or null just ended
      if (--depth === 0) return i + 1;
    } else if (depth === 0 && (c === COMMA || isSpace(c))) return i;
    i++;
  }
  return depth === 0 ? i : -1;
}

/**
 * Where JSON values lie in one buffer, in order: the byte offsets of each value's start and end are
 * kept in one flat array (two numbers per value, no object per value), and only this class reads it.
 */
export class Spans {
  constructor(
    readonly bytes: Buffer,
    private readonly offsets: number[],
  ) {}

  get count(): number {
    return this.offsets.length / 2;
  }

  /** The bytes of value `k` (a view, not a copy). */
  slice(k: number): Buffer {
    return this.bytes.subarray(this.offsets[2 * k], this.offsets[2 * k + 1]);
  }

  /** Value `k`, parsed. */
  parse(k: number): unknown {
    return JSON.parse(this.bytes.toString('utf8', this.offsets[2 * k], this.offsets[2 * k + 1]));
  }
}

/**
 * The elements of the array starting at `start` (a "[") and the index just past the array; undefined
 * if the bytes there are not laid out as an array.
 */
export function arraySpans(b: Buffer, start: number): { items: Spans; end: number } | undefined {
  if (b[start] !== OPEN_ARRAY) return undefined;
  let i = skipSpace(b, start + 1);
  const offsets: number[] = [];
  if (b[i] === CLOSE_ARRAY) return { items: new Spans(b, offsets), end: i + 1 };
  for (;;) {
    const end = endOfValue(b, i);
    if (end < 0) return undefined;
    offsets.push(i, end);
    i = skipSpace(b, end);
    if (b[i] === COMMA) i = skipSpace(b, i + 1);
    else if (b[i] === CLOSE_ARRAY) return { items: new Spans(b, offsets), end: i + 1 };
    else return undefined;
  }
}
