import type { MixpanelEndpoint, MixpanelItem } from '../destinations/mixpanel/wire.js';
import { nextAttemptDelayMs, type RetrySchedule } from './backoff.js';
import type { DeliveryJob, EventToQueue, PendingItem } from './delivery-job.js';
import type { JobToQueue } from './delivery-queue.js';
import type { DeliveredByKind } from './delivery-store.js';

/** How one Mixpanel object fared: delivered, refused for good, to be sent again, or held (credentials refused). */
export type ItemState = 'done' | 'dead' | 'retry' | 'hold';

/** One Mixpanel object made from an event of a job, as its requests left it. */
export interface SettledItem {
  /** The job it came from (index into `jobs`) and the event of that job. */
  job: number;
  event: number;
  endpoint: MixpanelEndpoint;
  state: ItemState;
  /** Why it is not done (Mixpanel's message, or the error). */
  reason?: string;
  /** Mixpanel's HTTP status when it is not done (0: no answer). */
  httpStatus?: number;
}

/** What settling needs of a fetched job. */
export interface SettleJob {
  orgId: string;
  integrationId: string;
  /** Attempts made before this one. */
  attempt: number;
  acceptedAt: number;
}

export interface SettleInput {
  jobs: SettleJob[];
  items: SettledItem[];
  /** Events refused before anything was sent (by the blueprint, or because mapping them threw). */
  refused: { job: number; event: number; reason: string }[];
  schedule: RetrySchedule & { holdMs: number };
  now: number;
  /** The longest Retry-After Mixpanel asked for in this batch. */
  retryAfterMs?: number;
  /** The circuit breaker is open and this batch probed: transient failures wait until then, spending no attempt. */
  holdTransientUntil?: Date;
  /** Reads an item back (only for those queued again) and an event as it was stored. */
  itemOf(item: SettledItem): MixpanelItem;
  storedEvent(job: number, event: number): EventToQueue;
}

/** Items of one batch that failed the same way, and what happens to them next (one log line's worth). */
export interface DeliveryFailure {
  /** `/import`, `/engage`, `/groups`, or `blueprint` for events refused before sending. */
  endpoint: string;
  /** Mixpanel's HTTP status; 0 when no answer came (timeout, connection error); absent for the blueprint. */
  http_status?: number;
  /** Mixpanel's error (or the connection error, or the blueprint's reason). */
  error: string;
  items: number;
  next: 'retry' | 'dead-lettered' | 'held';
  /** For `retry`: when the earliest of them is sent again. */
  retry_at?: string;
}

export interface Settlement {
  /** Jobs to queue: items to send again (with back-off, or at the next probe) and items held. */
  followUps: JobToQueue[];
  retried: number;
  held: number;
  /** Events to dead-letter, with every reason they were refused for. */
  deadLetters: { job: number; event: number; reason: string; attempts: number }[];
  /** Mixpanel objects accepted, by kind, and canonical events whose every object was accepted. */
  delivered: DeliveredByKind;
  eventsDelivered: number;
  /** Mixpanel objects refused for good. */
  failed: number;
  failures: DeliveryFailure[];
}

const KIND: Record<MixpanelEndpoint, keyof DeliveredByKind> = { '/import': 'events', '/engage': 'profileUpdates', '/groups': 'groupUpdates' };

/** Why events are dead-lettered when they were not delivered within the delivery window. */
export function outlived(maxAgeMs: number, lastError: string): string {
  const window = maxAgeMs % 3_600_000 === 0 ? `${maxAgeMs / 3_600_000} h` : `${Math.round(maxAgeMs / 1000)} s`;
  return `gave up: not delivered within the delivery window (${window}); last error: ${lastError}`;
}

/**
 * What a batch comes to once Mixpanel has answered every request: which items go out again and
 * when, which events go to dead letters and why, what was delivered — decided from plain data, so
 * each rule (attempts exhausted, the window passed, partial failure, a hold, a probe) is tested on its
 * own. Nothing here sends, stores or reads a clock.
 */
export function settle(input: SettleInput): Settlement {
  const { jobs, items, schedule, now } = input;
  const followUps: JobToQueue[] = [];
  let retried = 0;
  let held = 0;
  const retryAt = new Map<SettledItem, Date>();
  const state = new Map<SettledItem, { state: ItemState; reason?: string }>();
  const finalState = (it: SettledItem) => state.get(it) ?? it;

  jobs.forEach((job, j) => {
    const mine = items.filter((it) => it.job === j);
    const retry = mine.filter((it) => it.state === 'retry');
    const hold = mine.filter((it) => it.state === 'hold');
    if (retry.length > 0) {
      const attempts = input.holdTransientUntil ? job.attempt : job.attempt + 1;
      const lastError = retry[0].reason ?? 'no answer';
      const expired = now - job.acceptedAt >= schedule.maxAgeMs;
      if (expired || attempts >= schedule.maxAttempts) {
        const reason = expired ? outlived(schedule.maxAgeMs, lastError) : `gave up after ${attempts} attempt(s): ${lastError}`;
        for (const it of retry) state.set(it, { state: 'dead', reason });
      } else {
        const startAfter = input.holdTransientUntil ?? new Date(now + nextAttemptDelayMs(attempts, job.acceptedAt, now, schedule, input.retryAfterMs));
        for (const it of retry) retryAt.set(it, startAfter);
        followUps.push({ data: carry(input, j, retry, attempts, lastError), startAfter });
        retried += retry.length;
      }
    }
    if (hold.length > 0) {
      followUps.push({ data: carry(input, j, hold, job.attempt, 'held: Mixpanel refused the credentials'), startAfter: new Date(now + schedule.holdMs) });
      held += hold.length;
    }
  });

  const delivered: DeliveredByKind = { events: 0, profileUpdates: 0, groupUpdates: 0 };
  let eventsDelivered = 0;
  let failed = 0;
  const dead = new Map<string, { job: number; event: number; reasons: Set<string> }>();
  const markDead = (job: number, event: number, reason: string) => {
    const key = `${job}:${event}`;
    const d = dead.get(key) ?? { job, event, reasons: new Set<string>() };
    d.reasons.add(reason);
    dead.set(key, d);
  };
  for (const r of input.refused) markDead(r.job, r.event, r.reason);
  // An event's items are consecutive: it is delivered when every one of them is done.
  let current = '';
  let allDone = false;
  for (const it of items) {
    const key = `${it.job}:${it.event}`;
    if (key !== current) {
      if (allDone) eventsDelivered++;
      current = key;
      allDone = true;
    }
    const s = finalState(it);
    if (s.state === 'done') delivered[KIND[it.endpoint]]++;
    else {
      allDone = false;
      if (s.state === 'dead') {
        failed++;
        markDead(it.job, it.event, s.reason ?? 'refused');
      }
    }
  }
  if (allDone) eventsDelivered++;

  return {
    followUps,
    retried,
    held,
    deadLetters: [...dead.values()].map((d) => ({ job: d.job, event: d.event, reason: [...d.reasons].join('; '), attempts: jobs[d.job].attempt + 1 })),
    delivered,
    eventsDelivered,
    failed,
    failures: failuresOf(items, finalState, retryAt, input.refused),
  };
}

/** A new job holding just these items and the events they came from (re-indexed). */
function carry(input: SettleInput, j: number, items: SettledItem[], attempt: number, lastError: string): DeliveryJob {
  const job = input.jobs[j];
  const index = new Map<number, number>();
  const events: EventToQueue[] = [];
  const pending: PendingItem[] = [];
  for (const it of items) {
    let e = index.get(it.event);
    if (e === undefined) {
      e = events.length;
      index.set(it.event, e);
      events.push(input.storedEvent(j, it.event));
    }
    pending.push({ e, item: input.itemOf(it) });
  }
  return { orgId: job.orgId, integrationId: job.integrationId, events, pending, attempt, acceptedAt: job.acceptedAt, lastError };
}

/** Groups what did not go through by endpoint, status, reason and fate, for the log. */
function failuresOf(
  items: SettledItem[],
  finalState: (it: SettledItem) => { state: ItemState; reason?: string },
  retryAt: Map<SettledItem, Date>,
  refused: SettleInput['refused'],
): DeliveryFailure[] {
  const groups = new Map<string, DeliveryFailure>();
  for (const it of items) {
    const s = finalState(it);
    if (s.state === 'done') continue;
    const next = s.state === 'retry' ? 'retry' : s.state === 'hold' ? 'held' : 'dead-lettered';
    const error = s.reason ?? 'refused';
    const key = `${it.endpoint}|${it.httpStatus}|${next}|${error}`;
    const g = groups.get(key) ?? { endpoint: it.endpoint, http_status: it.httpStatus, error, items: 0, next };
    g.items++;
    const at = retryAt.get(it)?.toISOString();
    if (at && (!g.retry_at || at < g.retry_at)) g.retry_at = at;
    groups.set(key, g);
  }
  for (const r of refused) {
    const error = r.reason.replace(/^rejected by the blueprint: /, '');
    const key = `blueprint|${error}`;
    const g = groups.get(key) ?? { endpoint: 'blueprint', error, items: 0, next: 'dead-lettered' as const };
    g.items++;
    groups.set(key, g);
  }
  return [...groups.values()];
}
