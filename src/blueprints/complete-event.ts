import { randomUUID } from 'node:crypto';
import type { CanonicalEvent } from './canonical-event.js';
import { nonBlank } from './paths.js';

/**
 * Below this, a difference between the client's clock (sentAt) and the platform's (receivedAt) is taken
 * for network and queueing time, not a wrong clock, and the client's time is kept as it is. Above it,
 * the correction is rounded to whole seconds, so a resent batch gets the same event time (Mixpanel
 * deduplicates on it).
 */
export const CLOCK_SKEW_THRESHOLD_MS = 30_000;


/** The event's fields that ingest fixes once (a canonical event as SDKs send it, before it is complete). */
type Received = Partial<Pick<CanonicalEvent, 'messageId' | 'timestamp' | 'originalTimestamp' | 'sentAt' | 'receivedAt'>>;

/** Whether ingest must fill in or correct anything before the event is queued as it arrived. */
export function needsCompleting(e: Received): boolean {
  return !e.messageId || nonBlank(e.timestamp) === undefined || e.sentAt !== undefined;
}

/**
 * When the event happened, the way Segment works it out: the client's time (`originalTimestamp`, else
 * `timestamp`) moved by the client clock's error (`receivedAt − sentAt`) when that error is real; else
 * `timestamp`, `originalTimestamp`, and the time the platform received the event, in that order.
 */
export function eventTime(e: Received, receivedAt: string): string {
  const timestamp = nonBlank(e.timestamp);
  const clientTime = nonBlank(e.originalTimestamp) ?? timestamp;
  if (clientTime && nonBlank(e.sentAt)) {
    const client = Date.parse(clientTime);
    const skew = Date.parse(nonBlank(e.receivedAt) ?? receivedAt) - Date.parse(e.sentAt!);
    if (Number.isFinite(client) && Number.isFinite(skew) && Math.abs(skew) > CLOCK_SKEW_THRESHOLD_MS) {
      return new Date(client + Math.round(skew / 1000) * 1000).toISOString();
    }
  }
  return timestamp ?? nonBlank(e.originalTimestamp) ?? receivedAt;
}

/**
 * Fixes, once, what every retry and every integration must see the same: a messageId (the source of
 * $insert_id) and the event time. Changes the event in place and returns it.
 */
export function completeEvent<T extends Received>(e: T, receivedAt: string): T & { messageId: string; timestamp: string } {
  e.messageId ||= randomUUID();
  e.timestamp = eventTime(e, receivedAt);
  return e as T & { messageId: string; timestamp: string };
}
