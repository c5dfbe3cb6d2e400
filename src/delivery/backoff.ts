/**
 * Mixpanel's advice for 429/5xx: start at 2 s, double up to 60 s, add 1–5 s of jitter. With another
 * base the jitter scales the same way (base/2 … 2.5 × base). A Retry-After wins when it is longer.
 */
/** What decides when a failed attempt is made again. */
export interface RetrySchedule {
  maxAttempts: number;
  maxAgeMs: number;
  /** Attempts retried with Mixpanel's short back-off; the rest are spread over the window (maxAgeMs). */
  shortRetries: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

/**
 * How long to wait before the next attempt, after `attemptsMade` failed ones. The first
 * `shortRetries` follow Mixpanel's advice (2 s doubling to 60 s, with jitter), which rides out a
 * blip; the remaining attempts are spread evenly over what is left of the delivery window, so that
 * an outage of hours still leaves attempts for when Mixpanel is back (the platform's policy: up to 5
 * attempts over 24 hours). Never sooner than the short back-off, nor a Retry-After.
 */
export function nextAttemptDelayMs(
  attemptsMade: number,
  acceptedAt: number,
  now: number,
  s: RetrySchedule,
  retryAfterMs?: number,
  random = Math.random,
): number {
  const short = retryDelayMs(attemptsMade, s.retryBaseMs, s.retryMaxMs, retryAfterMs, random);
  if (attemptsMade < s.shortRetries) return short;
  const left = s.maxAttempts - attemptsMade;
  const windowLeft = acceptedAt + s.maxAgeMs - now;
  return Math.max(short, Math.floor(windowLeft / (left + 1)));
}

export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, retryAfterMs?: number, random = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const jitter = baseMs / 2 + random() * baseMs * 2;
  const delay = Math.round(exp + jitter);
  return retryAfterMs !== undefined ? Math.max(delay, retryAfterMs) : delay;
}
