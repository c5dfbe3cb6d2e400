import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import { paginate, type Page, type PageRequest } from '../shared/pagination.js';
import { storableJson } from '../shared/storable-json.js';

export interface DeliveryLogRow {
  orgId: string;
  integrationId: string;
  endpoint: string;
  host: string;
  eventCount: number;
  /** Items of this request that Mixpanel refused or that must be sent again. */
  failedCount: number;
  httpStatus: number | null;
  status: 'delivered' | 'partial' | 'rejected' | 'auth_failed' | 'split' | 'retry';
  responseBody: string | null;
  error: string | null;
  attempt: number;
  durationMs: number;
}

export interface DeadLetterRow {
  orgId: string;
  integrationId: string;
  event: CanonicalEvent;
  reason: string;
  attempts: number;
}

/** Mixpanel objects accepted, by kind (endpoint). */
export interface DeliveredByKind {
  events: number;
  profileUpdates: number;
  groupUpdates: number;
}

export interface BatchRecord {
  logs: DeliveryLogRow[];
  deadLetters: DeadLetterRow[];
  delivered: DeliveredByKind;
  /** Canonical events whose every Mixpanel object was accepted. */
  eventsDelivered: number;
  failed: number;
  /** Events the blueprint chose not to send, those skipped for lack of consent included. */
  skipped: number;
  skippedNoConsent: number;
  lastError?: string;
}

/** Mixpanel's answers are kept for troubleshooting, cut to this many characters. */
export const RESPONSE_BODY_LIMIT = 4096;

/** Where a replay got to: the creation time (as PostgreSQL writes it, to the microsecond) and id of the last dead letter it took. */
export interface ReplayPosition {
  createdAt: string;
  id: string;
}

/** Delivery logs (one row per request), dead letters and per-integration counters. */
export class DeliveryStore {
  constructor(private readonly knex: Knex) {}

  /** Writes what one batch did, in the caller's transaction. */
  record(trx: Knex.Transaction, integrationId: string, orgId: string, r: BatchRecord): Promise<void> {
    return this.recordAll(trx, [{ integrationId, orgId, record: r }]);
  }

  /**
   * Writes what several batches did, in the caller's transaction: their logs and dead letters in one
   * statement each, their counters in one upsert (one row per integration, in id order, so two
   * transactions upserting the same integrations cannot deadlock).
   */
  async recordAll(trx: Knex.Transaction, batches: { integrationId: string; orgId: string; record: BatchRecord }[]): Promise<void> {
    const logs = batches.flatMap((b) => b.record.logs);
    if (logs.length > 0) {
      await trx('delivery_logs').insert(
        logs.map((l) => ({
          org_id: l.orgId,
          integration_id: l.integrationId,
          endpoint: l.endpoint,
          host: l.host,
          event_count: l.eventCount,
          failed_count: l.failedCount,
          http_status: l.httpStatus,
          status: l.status,
          response_body: l.responseBody?.slice(0, RESPONSE_BODY_LIMIT) ?? null,
          error: l.error?.slice(0, RESPONSE_BODY_LIMIT) ?? null,
          attempt: l.attempt,
          duration_ms: Math.round(l.durationMs),
        })),
      );
    }
    const deadLetters = batches.flatMap((b) => b.record.deadLetters);
    if (deadLetters.length > 0) {
      await trx('dead_letters').insert(
        deadLetters.map((d) => ({
          id: randomUUID(),
          org_id: d.orgId,
          integration_id: d.integrationId,
          // Whatever the event holds, its dead letter is stored (and listed) — never a failed commit.
          event: storableJson(d.event, (reason) => ({ unstorable_event: `the event could not be stored as it was: ${reason}` })),
          reason: d.reason.slice(0, RESPONSE_BODY_LIMIT),
          attempts: d.attempts,
        })),
      );
    }
    const now = new Date();
    const rows = [...countersByIntegration(batches).entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    if (rows.length === 0) return;
    const values = rows.map(([integrationId, c]) => {
      const items = c.events + c.profileUpdates + c.groupUpdates;
      return [
        integrationId,
        c.orgId,
        items,
        c.eventsDelivered,
        c.events,
        c.profileUpdates,
        c.groupUpdates,
        c.failed,
        c.deadLettered,
        c.skipped,
        c.skippedNoConsent,
        items > 0 ? now : null,
        c.lastError ? now : null,
        c.lastError?.slice(0, 1000) ?? null,
      ];
    });
    await trx.raw(
      `INSERT INTO delivery_counters (integration_id, org_id, items_delivered, events_delivered, mixpanel_events_delivered,
                                      profile_updates_delivered, group_updates_delivered, failed, dead_lettered, skipped,
                                      skipped_no_consent, last_success_at, last_error_at, last_error)
       VALUES ${values.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::timestamptz, ?::timestamptz, ?)').join(', ')}
       ON CONFLICT (integration_id) DO UPDATE SET
         items_delivered = delivery_counters.items_delivered + EXCLUDED.items_delivered,
         events_delivered = delivery_counters.events_delivered + EXCLUDED.events_delivered,
         mixpanel_events_delivered = delivery_counters.mixpanel_events_delivered + EXCLUDED.mixpanel_events_delivered,
         profile_updates_delivered = delivery_counters.profile_updates_delivered + EXCLUDED.profile_updates_delivered,
         group_updates_delivered = delivery_counters.group_updates_delivered + EXCLUDED.group_updates_delivered,
         failed = delivery_counters.failed + EXCLUDED.failed,
         dead_lettered = delivery_counters.dead_lettered + EXCLUDED.dead_lettered,
         skipped = delivery_counters.skipped + EXCLUDED.skipped,
         skipped_no_consent = delivery_counters.skipped_no_consent + EXCLUDED.skipped_no_consent,
         last_success_at = coalesce(EXCLUDED.last_success_at, delivery_counters.last_success_at),
         last_error_at = coalesce(EXCLUDED.last_error_at, delivery_counters.last_error_at),
         last_error = coalesce(EXCLUDED.last_error, delivery_counters.last_error)`,
      values.flat(),
    );
  }

  listLogs(orgId: string, integrationId: string, status: string | undefined, page: PageRequest): Promise<Page<Record<string, unknown>>> {
    const q = this.knex('delivery_logs').select('*').where({ org_id: orgId, integration_id: integrationId });
    if (status) q.where({ status });
    return paginate(q, page, { time: 'created_at', id: 'id', idType: 'bigint' }, (r: Record<string, unknown>) => ({
      id: String(r.id),
      endpoint: r.endpoint,
      host: r.host,
      event_count: r.event_count,
      failed_count: r.failed_count,
      http_status: r.http_status,
      status: r.status,
      response_body: r.response_body,
      error: r.error,
      attempt: r.attempt,
      duration_ms: r.duration_ms,
      created_at: (r.created_at as Date).toISOString(),
    }));
  }

  listDeadLetters(orgId: string, integrationId: string, status: string, page: PageRequest): Promise<Page<Record<string, unknown>>> {
    const q = this.knex('dead_letters').select('*').where({ org_id: orgId, integration_id: integrationId, status });
    return paginate(q, page, { time: 'created_at', id: 'id' }, (r: Record<string, unknown>) => ({
      id: r.id,
      event: r.event,
      reason: r.reason,
      attempts: r.attempts,
      status: r.status,
      created_at: (r.created_at as Date).toISOString(),
      replayed_at: r.replayed_at ? (r.replayed_at as Date).toISOString() : null,
    }));
  }

  /**
   * Marks up to `limit` dead letters replayed (the oldest: of all, or of those in `ids`; past `after`,
   * the last one a previous call took) and returns their events, oldest first, in the caller's
   * transaction, with the position to go on from. Starting past the previous position keeps each call
   * from wading through the index entries its predecessors left behind (without it, a replay of
   * 300,000 slowed with every call).
   */
  async takeForReplay(
    trx: Knex.Transaction,
    orgId: string,
    integrationId: string,
    limit: number,
    opts: { ids?: string[]; after?: ReplayPosition } = {},
  ): Promise<{ events: CanonicalEvent[]; last?: ReplayPosition }> {
    const { ids, after } = opts;
    const { rows } = await trx.raw(
      `WITH oldest AS (
         SELECT id FROM dead_letters
          WHERE org_id = ? AND integration_id = ? AND status = 'dead'
                ${ids ? 'AND id = ANY(?::uuid[])' : ''} ${after ? 'AND (created_at, id) > (?::timestamptz, ?::uuid)' : ''}
          ORDER BY created_at, id LIMIT ? FOR UPDATE),
       taken AS (
         UPDATE dead_letters d SET status = 'replayed', replayed_at = now() FROM oldest
          WHERE d.id = oldest.id AND d.status = 'dead' RETURNING d.event, d.created_at, d.id)
       SELECT event, created_at::text AS created_at, id FROM taken ORDER BY taken.created_at, id`,
      [orgId, integrationId, ...(ids ? [ids] : []), ...(after ? [after.createdAt, after.id] : []), limit],
    );
    const taken = rows as { event: CanonicalEvent; created_at: string; id: string }[];
    const last = taken.at(-1);
    return { events: taken.map((r) => r.event), last: last && { createdAt: last.created_at, id: last.id } };
  }

  async counters(integrationId: string) {
    return this.knex('delivery_counters').where({ integration_id: integrationId }).first();
  }

  async deadLetterDepth(integrationId: string): Promise<number> {
    const row = await this.knex('dead_letters').where({ integration_id: integrationId, status: 'dead' }).count({ n: '*' }).first();
    return Number(row?.n ?? 0);
  }

  /** Items delivered and failed in the last hour, from the request log. */
  async lastHour(integrationId: string): Promise<{ delivered: number; failed: number }> {
    const row = await this.knex('delivery_logs')
      .where({ integration_id: integrationId })
      .where('created_at', '>', this.knex.raw("now() - interval '1 hour'"))
      .select(
        this.knex.raw("coalesce(sum(event_count - failed_count) FILTER (WHERE status IN ('delivered', 'partial')), 0)::int AS delivered"),
        this.knex.raw("coalesce(sum(failed_count) FILTER (WHERE status <> 'split'), 0)::int AS failed"),
      )
      .first();
    return { delivered: row?.delivered ?? 0, failed: row?.failed ?? 0 };
  }

  async pruneLogs(olderThanHours: number): Promise<number> {
    return this.knex('delivery_logs').where('created_at', '<', this.knex.raw(`now() - make_interval(hours => ?)`, [olderThanHours])).delete();
  }
}

interface CounterDelta extends DeliveredByKind {
  orgId: string;
  eventsDelivered: number;
  failed: number;
  deadLettered: number;
  skipped: number;
  skippedNoConsent: number;
  lastError?: string;
}

/** The batches' counts summed per integration (one upsert may touch a row only once); the last error wins. */
function countersByIntegration(batches: { integrationId: string; orgId: string; record: BatchRecord }[]): Map<string, CounterDelta> {
  const sums = new Map<string, CounterDelta>();
  for (const { integrationId, orgId, record: r } of batches) {
    const c = sums.get(integrationId) ?? { orgId, events: 0, profileUpdates: 0, groupUpdates: 0, eventsDelivered: 0, failed: 0, deadLettered: 0, skipped: 0, skippedNoConsent: 0 };
    c.events += r.delivered.events;
    c.profileUpdates += r.delivered.profileUpdates;
    c.groupUpdates += r.delivered.groupUpdates;
    c.eventsDelivered += r.eventsDelivered;
    c.failed += r.failed;
    c.deadLettered += r.deadLetters.length;
    c.skipped += r.skipped;
    c.skippedNoConsent += r.skippedNoConsent;
    c.lastError = r.lastError ?? c.lastError;
    sums.set(integrationId, c);
  }
  return sums;
}
