import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import type { MixpanelItem } from '../blueprints/engine.js';

/** One queued unit of work for one integration: events from one ingest request, or a retry of some. */
export interface DeliveryJob {
  orgId: string;
  integrationId: string;
  /** Canonical events; mapped with the integration's current blueprint on the first attempt. */
  events: CanonicalEvent[];
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
