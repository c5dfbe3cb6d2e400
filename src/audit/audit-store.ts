import type { Knex } from 'knex';
import type { Actor } from '../auth/actor.js';
import { paginate, type Page, type PageRequest } from '../shared/pagination.js';

export interface AuditEntry {
  orgId: string;
  userId: string;
  action: string;
  resourceType: string;
  resourceId: string;
  changes: { old: unknown; new: unknown };
  ipAddress?: string;
}

export interface AuditFilter {
  resourceType?: string;
  resourceId?: string;
  from?: string;
  to?: string;
}

/** Audit rows are written inside the transaction of the change they describe. */
export class AuditStore {
  constructor(private readonly knex: Knex) {}

  private row(entry: AuditEntry) {
    return {
      org_id: entry.orgId,
      user_id: entry.userId,
      action: entry.action,
      resource_type: entry.resourceType,
      resource_id: entry.resourceId,
      changes: JSON.stringify(entry.changes),
      ip_address: entry.ipAddress ?? null,
    };
  }

  /** What an actor did to a resource, in the transaction of the change (who, from where, old/new). */
  async byActor(trx: Knex.Transaction, actor: Actor, action: string, resource: { type: string; id: string }, changes: AuditEntry['changes']): Promise<void> {
    await this.record(trx, { orgId: actor.orgId, userId: actor.userId, action, resourceType: resource.type, resourceId: resource.id, changes, ipAddress: actor.ip });
  }

  async record(trx: Knex.Transaction, entry: AuditEntry): Promise<void> {
    await trx('audit_logs').insert(this.row(entry));
  }

  list(orgId: string, filter: AuditFilter, page: PageRequest): Promise<Page<Record<string, unknown>>> {
    const q = this.knex('audit_logs').select('*').where({ org_id: orgId });
    if (filter.resourceType) q.where({ resource_type: filter.resourceType });
    if (filter.resourceId) q.where({ resource_id: filter.resourceId });
    if (filter.from) q.where('timestamp', '>=', filter.from);
    if (filter.to) q.where('timestamp', '<', filter.to);
    return paginate(q, page, { time: 'timestamp', id: 'id', idType: 'bigint' }, (r: Record<string, unknown>) => ({
      id: String(r.id),
      action: r.action,
      user_id: r.user_id,
      resource_type: r.resource_type,
      resource_id: r.resource_id,
      changes: r.changes,
      ip_address: r.ip_address,
      timestamp: (r.timestamp as Date).toISOString(),
    }));
  }
}
