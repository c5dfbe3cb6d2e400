/**
 * Mixpanel's advice for 429/5xx: start at 2 s, double up to 60 s, add 1–5 s of jitter. With another
 * base the jitter scales the same way (base/2 … 2.5 × base). A Retry-After wins when it is longer.
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, retryAfterMs?: number, random = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const jitter = baseMs / 2 + random() * baseMs * 2;
  const delay = Math.round(exp + jitter);
  return retryAfterMs !== undefined ? Math.max(delay, retryAfterMs) : delay;
}
