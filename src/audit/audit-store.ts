import type { Knex } from 'knex';

export interface AuditEntry {
  orgId: string;
  userId: string;
  action: string;
  resourceType: string;
  resourceId: string;
  changes: { old: unknown; new: unknown };
  ipAddress?: string;
}

/** Audit rows are written inside the transaction of the change they describe. */
export class AuditStore {
  async record(trx: Knex.Transaction, entry: AuditEntry): Promise<void> {
    await trx('audit_logs').insert({
      org_id: entry.orgId,
      user_id: entry.userId,
      action: entry.action,
      resource_type: entry.resourceType,
      resource_id: entry.resourceId,
      changes: JSON.stringify(entry.changes),
      ip_address: entry.ipAddress ?? null,
    });
  }
}
