import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import type { MixpanelItem } from '../destinations/mixpanel/wire.js';

/**
 * A canonical event to queue, or its JSON as received (UTF-8 bytes on one line), which is queued as
 * is: ingest need not keep the parsed event, nor serialise it again.
 */
export type EventToQueue = CanonicalEvent | Buffer;

/**
 * One queued unit of work for one integration: events of one ingest request (or of several of one org
 * accepted together, each request's in order), or a retry of some.
 */
export interface DeliveryJob {
  orgId: string;
  integrationId: string;
  /** Canonical events; mapped with the integration's current blueprint on the first attempt. */
  events: EventToQueue[];
  /** On a retry: exactly the Mixpanel items still to send (same $insert_id and time), by event index. */
  pending?: PendingItem[];
  /** Attempts already made. */
  attempt: number;
  /** When the events were first accepted (ms since epoch): age limit and latency. */
  acceptedAt: number;
  /** Why the previous attempt did not finish (for dead letters). */
  lastError?: string;
}

export interface PendingItem {
  e: number;
  item: MixpanelItem;
}

/** Events read back from the queue: each one parsed only when asked for. */
export interface EventList {
  readonly length: number;
  at(index: number): CanonicalEvent;
  /** The event as it can be queued again: its stored JSON, not parsed (or the event itself). */
  stored(index: number): EventToQueue;
}

/** A job as the worker fetches it. */
export type FetchedJob = Omit<DeliveryJob, 'events'> & { events: EventList };

export function eventList(events: CanonicalEvent[]): EventList {
  return { length: events.length, at: (i) => events[i], stored: (i) => events[i] };
}

/** The job again as one to queue, its events as they were stored (none parsed and serialised again). */
export function toDeliveryJob(job: FetchedJob): DeliveryJob {
  return { ...job, events: Array.from({ length: job.events.length }, (_, i) => job.events.stored(i)) };
}

/** The job with all its events parsed, for inspection. */
export function withParsedEvents(job: FetchedJob): Omit<DeliveryJob, 'events'> & { events: CanonicalEvent[] } {
  return { ...job, events: Array.from({ length: job.events.length }, (_, i) => job.events.at(i)) };
}
