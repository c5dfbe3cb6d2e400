/**
 * An escape JSON.stringify writes for text PostgreSQL's jsonb refuses: a NUL (\u0000) or an unpaired
 * surrogate (\ud800–\udfff; paired ones are written as characters, never escaped). Only an escape
 * whose backslash is not itself escaped counts (an even run of backslashes before it).
 */
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/gi;

/** Deeper than this, PostgreSQL's jsonb parser may run out of stack (and some engines' JSON.stringify). */
export const MAX_STORED_DEPTH = 64;

/** Whether a value nests deeper than `limit` (iterative: any depth is measured without recursion). */
function deeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * JSON text that PostgreSQL's jsonb accepts for any value: NULs and unpaired surrogates become U+FFFD,
 * and a value that is nested too deeply, or that JSON.stringify cannot write (cyclic, BigInt), is
 * replaced by `fallback(reason)`. For what must be stored whatever it holds (dead letters).
 */
export function storableJson(value: unknown, fallback: (reason: string) => unknown): string {
  let text: string;
  try {
    if (deeperThan(value, MAX_STORED_DEPTH)) throw new Error(`nested deeper than ${MAX_STORED_DEPTH} levels`);
    text = JSON.stringify(value) ?? 'null';
  } catch (err) {
    text = JSON.stringify(fallback((err as Error).message));
  }
  return text.replace(UNSTORABLE_ESCAPE, '$1\\ufffd');
}
