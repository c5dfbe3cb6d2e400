import type { Knex } from 'knex';
import type { SqlExecutor } from '../db-transaction.js';
import type { Blueprint } from '../blueprints/blueprint.js';
import type { components } from '../generated/api.js';
import type { SealedSecret } from '../secrets/secret-box.js';
import { paginate, type Page, type PageRequest } from '../shared/pagination.js';
import type { DeliveryIntegration, IntegrationRecord, PublicConfig } from './integration.js';

interface JoinedRow extends Record<string, unknown> {
  id: string;
  org_id: string;
  name: string;
  vendor: string;
  variant: string;
  delivery_mode: 'server_side';
  enabled: boolean;
  status: 'active' | 'auth_failed';
  status_reason: string | null;
  degraded_since: Date | null;
  degraded_reason: string | null;
  current_revision: number;
  config: PublicConfig;
  blueprint: Blueprint;
  created_at: Date;
  updated_at: Date;
}

function toRecord(row: JoinedRow): IntegrationRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    vendor: row.vendor,
    variant: row.variant,
    deliveryMode: row.delivery_mode,
    enabled: row.enabled,
    status: row.status,
    statusReason: row.status_reason,
    degradedSince: row.degraded_since,
    degradedReason: row.degraded_reason,
    revision: row.current_revision,
    config: row.config,
    blueprint: row.blueprint,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface NewRevision {
  id: string;
  integrationId: string;
  orgId: string;
  revisionNumber: number;
  config: Record<string, unknown>;
  blueprint: Blueprint;
  deliveryMode: string;
  changeSummary: string;
  createdBy: string;
}

export class UniqueNameError extends Error {}
/** The org already has as many integrations as it may. */
export class OrgFullError extends Error {
  constructor(readonly count: number) {
    super(`the org has ${count} integrations`);
  }
}

/** An immutable revision as the API shows it (`Revision` in openapi.yaml, generated; config secrets are stored masked). */
export type RevisionRecord = components['schemas']['Revision'];

function toRevision(r: Record<string, unknown>, withBlueprint: boolean): RevisionRecord {
  return {
    id: r.id as string,
    integration_id: r.integration_id as string,
    revision_number: r.revision_number as number,
    config: r.config as RevisionRecord['config'],
    delivery_mode: r.delivery_mode as RevisionRecord['delivery_mode'],
    change_summary: r.change_summary as string,
    created_by: r.created_by as string,
    created_at: (r.created_at as Date).toISOString(),
    ...(withBlueprint ? { blueprint: r.blueprint as Blueprint } : {}),
  };
}

/** Integrations, their revisions and sealed secrets. Every read is scoped by org. */
export class IntegrationStore {
  constructor(private readonly knex: Knex) {}

  /** Integrations not deleted, with their current revision's config and `blueprint` (the column, or an expression). */
  private joined(db: Knex | Knex.Transaction = this.knex, blueprint: string | Knex.Raw = 'r.blueprint') {
    return db('integrations as i')
      .join('integration_revisions as r', function () {
        this.on('r.integration_id', '=', 'i.id').andOn('r.revision_number', '=', 'i.current_revision');
      })
      .whereNull('i.deleted_at')
      .select('i.*', 'r.config', blueprint);
  }

  async find(orgId: string, id: string, db: Knex | Knex.Transaction = this.knex): Promise<IntegrationRecord | undefined> {
    const row = (await this.joined(db).where({ 'i.org_id': orgId, 'i.id': id }).first()) as JoinedRow | undefined;
    return row && toRecord(row);
  }

  /**
   * These integrations (those not deleted), by id, in one query; without the blueprint of those whose
   * current revision is the one `held` names (the reader has it: a document of several KB that
   * PostgreSQL would otherwise write out, and the reader parse, for every batch).
   */
  async findMany(ids: string[], held: Map<string, number> = new Map()): Promise<Map<string, DeliveryIntegration>> {
    const blueprint = this.knex.raw(
      `CASE WHEN EXISTS (SELECT 1 FROM unnest(?::uuid[], ?::int[]) AS h(id, revision) WHERE h.id = i.id AND h.revision = i.current_revision)
            THEN NULL ELSE r.blueprint END AS blueprint`,
      [[...held.keys()], [...held.values()]],
    );
    const rows = (await this.joined(this.knex, blueprint).whereIn('i.id', ids)) as JoinedRow[];
    return new Map(
      rows.map((row) => {
        const { blueprint: doc, ...rest } = toRecord(row);
        return [row.id, doc === null ? rest : { ...rest, blueprint: doc }];
      }),
    );
  }

  /** Locks the integration row for an update in this transaction. */
  async lock(trx: Knex.Transaction, orgId: string, id: string): Promise<IntegrationRecord | undefined> {
    const locked = await trx('integrations').where({ org_id: orgId, id }).whereNull('deleted_at').forUpdate().first('id');
    return locked ? this.find(orgId, id, trx) : undefined;
  }

  list(orgId: string, page: PageRequest): Promise<Page<IntegrationRecord>> {
    return paginate<JoinedRow, IntegrationRecord>(
      this.joined().where('i.org_id', orgId),
      page,
      { time: 'i.created_at', id: 'i.id' },
      toRecord,
    );
  }

  /**
   * Inserts an integration, unless its org already has `maxPerOrg` (not deleted): installs of one org
   * take turns for the count (an advisory lock on the org for the rest of the transaction), so two at
   * once cannot both slip under the limit.
   */
  async insert(
    trx: Knex.Transaction,
    row: { id: string; orgId: string; name: string; vendor: string; variant: string; deliveryMode: string; createdBy: string },
    maxPerOrg: number,
  ): Promise<void> {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`integrations-of-org:${row.orgId}`]);
    const { count } = (await trx('integrations').where({ org_id: row.orgId }).whereNull('deleted_at').count<{ count: string }[]>('* as count'))[0];
    if (Number(count) >= maxPerOrg) throw new OrgFullError(Number(count));
    try {
      await trx('integrations').insert({
        id: row.id,
        org_id: row.orgId,
        name: row.name,
        vendor: row.vendor,
        variant: row.variant,
        delivery_mode: row.deliveryMode,
        current_revision: 1,
        created_by: row.createdBy,
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new UniqueNameError();
      throw err;
    }
  }

  async insertRevision(trx: Knex.Transaction, rev: NewRevision): Promise<void> {
    await trx('integration_revisions').insert({
      id: rev.id,
      integration_id: rev.integrationId,
      org_id: rev.orgId,
      revision_number: rev.revisionNumber,
      config: JSON.stringify(rev.config),
      blueprint: JSON.stringify(rev.blueprint),
      delivery_mode: rev.deliveryMode,
      change_summary: rev.changeSummary,
      created_by: rev.createdBy,
      // The time of the insert, not of the transaction's start: one that waited for the row lock
      // must not look older than the revision it follows.
      created_at: trx.raw('clock_timestamp()'),
    });
    await trx('integrations')
      .where({ id: rev.integrationId, org_id: rev.orgId })
      .update({ current_revision: rev.revisionNumber, updated_at: trx.fn.now() });
  }

  listRevisions(orgId: string, integrationId: string, page: PageRequest): Promise<Page<RevisionRecord>> {
    return paginate(
      this.knex('integration_revisions').select('*').where({ org_id: orgId, integration_id: integrationId }),
      page,
      { time: 'created_at', id: 'id' },
      (r: Record<string, unknown>) => toRevision(r, false),
    );
  }

  /**
   * Which of these integrations delivery may run for again (enabled, credentials not refused) and
   * which are gone (deleted): a worker asks about the integrations whose jobs it holds back.
   */
  async deliverableOrGone(ids: string[]): Promise<{ deliverable: string[]; gone: string[] }> {
    const rows = (await this.knex('integrations').whereIn('id', ids).select('id', 'enabled', 'status', 'deleted_at')) as {
      id: string;
      enabled: boolean;
      status: string;
      deleted_at: Date | null;
    }[];
    const found = new Map(rows.map((r) => [r.id, r]));
    const gone = ids.filter((id) => !found.get(id) || found.get(id)!.deleted_at);
    const deliverable = rows.filter((r) => !r.deleted_at && r.enabled && r.status === 'active').map((r) => r.id);
    return { deliverable, gone };
  }

  /** The enabled integrations of each of these orgs, in the caller's transaction (ingest queues a job for each). */
  async enabledIdsByOrg(db: SqlExecutor, orgIds: string[]): Promise<Map<string, string[]>> {
    const { rows } = await db.executeSql('SELECT id, org_id FROM integrations WHERE org_id = ANY($1::text[]) AND enabled AND deleted_at IS NULL', [orgIds]);
    const byOrg = new Map<string, string[]>();
    for (const r of rows as { id: string; org_id: string }[]) {
      const ids = byOrg.get(r.org_id);
      if (ids) ids.push(r.id);
      else byOrg.set(r.org_id, [r.id]);
    }
    return byOrg;
  }

  /**
   * Which of these integrations still exist, in the caller's transaction. Asked after the queues'
   * commit lock is held, as a statement of its own, it sees a deletion that committed meanwhile.
   */
  async liveIds(db: SqlExecutor, ids: string[]): Promise<Set<string>> {
    const { rows } = await db.executeSql('SELECT id FROM integrations WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL', [ids]);
    return new Set((rows as { id: string }[]).map((r) => r.id));
  }

  /** Mixpanel refused the credentials: held until a new secret is PATCHed, in delivery's transaction. */
  async markAuthFailed(trx: Knex.Transaction, id: string, reason: string): Promise<void> {
    await trx('integrations').where({ id }).update({ status: 'auth_failed', status_reason: reason, updated_at: trx.fn.now() });
  }

  /**
   * Marks delivery degraded (Mixpanel failing) or healthy again. Not a change of the integration's
   * settings: its ETag (updated_at) stays, so nobody's edit fails on it.
   */
  async setDegraded(id: string, degraded: { since: Date; reason: string } | null): Promise<void> {
    await this.knex('integrations')
      .where({ id })
      .update({ degraded_since: degraded?.since ?? null, degraded_reason: degraded?.reason.slice(0, 1000) ?? null });
  }

  async findRevision(orgId: string, integrationId: string, n: number, db: Knex | Knex.Transaction = this.knex): Promise<RevisionRecord | undefined> {
    const row = await db('integration_revisions').where({ org_id: orgId, integration_id: integrationId, revision_number: n }).first();
    return row && toRevision(row, true);
  }

  async update(trx: Knex.Transaction, orgId: string, id: string, row: Record<string, unknown>): Promise<void> {
    try {
      await trx('integrations').where({ org_id: orgId, id }).update({ ...row, updated_at: trx.fn.now() });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new UniqueNameError();
      throw err;
    }
  }

  /** Hides the integration and destroys its secrets; revisions and audit history stay. */
  async softDelete(trx: Knex.Transaction, orgId: string, id: string): Promise<void> {
    await trx('integrations').where({ org_id: orgId, id }).update({ deleted_at: trx.fn.now(), enabled: false, updated_at: trx.fn.now() });
    await trx('integration_secrets').where({ org_id: orgId, integration_id: id }).delete();
  }

  async saveSecret(trx: Knex.Transaction, integrationId: string, orgId: string, field: string, sealed: SealedSecret): Promise<void> {
    await trx('integration_secrets')
      .insert({
        integration_id: integrationId,
        org_id: orgId,
        field,
        key_id: sealed.keyId,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
        tag: sealed.tag,
      })
      .onConflict(['integration_id', 'field'])
      .merge({ key_id: sealed.keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext, tag: sealed.tag, updated_at: trx.fn.now() });
  }

  async deleteSecret(trx: Knex.Transaction, orgId: string, integrationId: string, field: string): Promise<void> {
    await trx('integration_secrets').where({ org_id: orgId, integration_id: integrationId, field }).delete();
  }

  /** The fields of the integration that have a secret stored, in the caller's transaction. */
  async secretFields(trx: Knex.Transaction, orgId: string, integrationId: string): Promise<Set<string>> {
    const rows = await trx('integration_secrets').where({ org_id: orgId, integration_id: integrationId }).select('field');
    return new Set(rows.map((r: { field: string }) => r.field));
  }

  async loadSecret(orgId: string, integrationId: string, field: string): Promise<SealedSecret | undefined> {
    return (await this.loadSecrets([{ orgId, integrationId }], field)).get(integrationId);
  }

  /** One field's sealed secret of each of these integrations that has one, by integration id, in one query. */
  async loadSecrets(wanted: { orgId: string; integrationId: string }[], field: string): Promise<Map<string, SealedSecret>> {
    if (wanted.length === 0) return new Map();
    const rows = await this.knex('integration_secrets')
      .where({ field })
      .whereIn(['org_id', 'integration_id'], wanted.map((w) => [w.orgId, w.integrationId]));
    return new Map(rows.map((row) => [row.integration_id as string, { keyId: row.key_id, nonce: row.nonce, ciphertext: row.ciphertext, tag: row.tag }]));
  }
}
