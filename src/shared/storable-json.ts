/**
 * An escape JSON.stringify writes for text PostgreSQL's jsonb refuses: a NUL (\u0000) or an unpaired
 * surrogate (\ud800–\udfff; paired ones are written as characters, never escaped). Only an escape
 * whose backslash is not itself escaped counts (an even run of backslashes before it).
 */
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/gi;

/**
 * JSON text that PostgreSQL's jsonb accepts for any value: NULs and unpaired surrogates become U+FFFD,
 * and a value JSON.stringify cannot write (nested too deeply for the stack, cyclic) is replaced by
 * `fallback(reason)`. For what must be stored whatever it holds (dead letters).
 */
export function storableJson(value: unknown, fallback: (reason: string) => unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? 'null';
  } catch (err) {
    text = JSON.stringify(fallback((err as Error).message));
  }
  return text.replace(UNSTORABLE_ESCAPE, '$1\\ufffd');
}
