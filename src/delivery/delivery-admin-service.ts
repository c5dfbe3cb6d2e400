import type { Knex } from 'knex';
import type { AuditStore } from '../audit/audit-store.js';
import type { Actor } from '../auth/actor.js';
import type { IntegrationService } from '../integrations/integration-service.js';
import type { PageRequest } from '../shared/pagination.js';
import type { DeliveryQueue } from './delivery-queue.js';
import type { DeliveryStore, ReplayPosition } from './delivery-store.js';
import { NotFoundError } from '../errors.js';
import { inTransaction } from '../db-transaction.js';

/** Dead letters replayed per transaction (see replay). */
export const REPLAY_CHUNK = 5000;

/** What operators see and do about delivery: request logs, dead letters and replay, stats. */
export class DeliveryAdminService {
  constructor(
    private readonly deps: {
      knex: Knex;
      integrations: IntegrationService;
      store: DeliveryStore;
      queue: DeliveryQueue;
      audit: AuditStore;
    },
  ) {}

  async deliveries(orgId: string, id: string, status: string | undefined, page: PageRequest) {
    await this.deps.integrations.get(orgId, id);
    return this.deps.store.listLogs(orgId, id, status, page);
  }

  async deadLetters(orgId: string, id: string, status: string, page: PageRequest) {
    await this.deps.integrations.get(orgId, id);
    return this.deps.store.listDeadLetters(orgId, id, status, page);
  }

  /**
   * Queues dead letters again (all, or the given ids), mapped afresh with the current blueprint, oldest
   * first, in transactions of REPLAY_CHUNK events: each marks its dead letters replayed and queues their
   * jobs together, so a replay cut short (a lost connection, a restart) has lost or doubled nothing and
   * can be asked again for the rest. Before, "all" was one transaction: 300,000 dead letters took 930 MB
   * of memory and held the integration's commit lock for 11 s.
   */
  async replay(actor: Actor, id: string, ids?: string[]): Promise<{ replayed: number }> {
    await this.deps.integrations.get(actor.orgId, id); // 404 for another org's or a deleted one
    let replayed = 0;
    let after: ReplayPosition | undefined;
    for (;;) {
      const taken = await this.replayChunk(actor, id, ids, after);
      replayed += taken.count;
      if (taken.count < REPLAY_CHUNK) return { replayed };
      after = taken.last;
    }
  }

  private replayChunk(actor: Actor, id: string, ids: string[] | undefined, after: ReplayPosition | undefined): Promise<{ count: number; last?: ReplayPosition }> {
    return inTransaction(this.deps.knex, async (trx, db) => {
      // Under the commit lock, and looked at again: a delete committing now cannot leave these jobs behind.
      if (!(await this.deps.queue.liveUnderLock([id], db, this.deps.integrations)).has(id)) throw new NotFoundError(`No integration ${id}`);
      const { events, last } = await this.deps.store.takeForReplay(trx, actor.orgId, id, REPLAY_CHUNK, { ids, after });
      if (events.length > 0) {
        const acceptedAt = Date.now();
        const jobs = [];
        for (let i = 0; i < events.length; i += 1000) {
          jobs.push({ data: { orgId: actor.orgId, integrationId: id, events: events.slice(i, i + 1000), attempt: 0, acceptedAt } });
        }
        await this.deps.queue.enqueue(jobs, db);
      }
      if (events.length > 0 || !after) {
        await this.deps.audit.byActor(trx, actor, 'dead_letters.replay', { type: 'integration', id }, { old: null, new: { replayed: events.length, ids: ids ?? 'all' } });
      }
      return { count: events.length, last };
    });
  }

  async stats(orgId: string, id: string) {
    const integration = await this.deps.integrations.get(orgId, id);
    const [counts, counters, hour, depth] = await Promise.all([
      this.deps.queue.counts(id),
      this.deps.store.counters(id),
      this.deps.store.lastHour(id),
      this.deps.store.deadLetterDepth(id),
    ]);
    const iso = (v: unknown) => (v ? (v as Date).toISOString() : null);
    const attempted = hour.delivered + hour.failed;
    return {
      integration_id: id,
      status: integration.status,
      delivery_health: integration.degradedSince ? 'degraded' : 'healthy',
      degraded_since: integration.degradedSince?.toISOString() ?? null,
      enabled: integration.enabled,
      queued: counts.queuedEvents,
      in_flight: counts.inFlightEvents,
      delivered: Number(counters?.events_delivered ?? 0),
      mixpanel_events_delivered: Number(counters?.mixpanel_events_delivered ?? 0),
      profile_updates_delivered: Number(counters?.profile_updates_delivered ?? 0),
      group_updates_delivered: Number(counters?.group_updates_delivered ?? 0),
      failed: Number(counters?.failed ?? 0),
      dead_lettered: Number(counters?.dead_lettered ?? 0),
      dead_letters_waiting: depth,
      skipped: Number(counters?.skipped ?? 0),
      skipped_no_consent: Number(counters?.skipped_no_consent ?? 0),
      success_rate_last_hour: attempted > 0 ? hour.delivered / attempted : null,
      last_success_at: iso(counters?.last_success_at),
      last_error_at: iso(counters?.last_error_at),
      last_error: (counters?.last_error as string | undefined) ?? null,
    };
  }
}
