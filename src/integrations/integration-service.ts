import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';
import type { AuditStore } from '../audit/audit-store.js';
import type { SqlExecutor } from '../db-transaction.js';
import type { components } from '../generated/api.js';
import type { Blueprint } from '../blueprints/blueprint.js';
import { blueprintProblems } from '../blueprints/validate.js';
import { findCatalogEntry } from '../catalog/catalog.js';
import { configProblems, configRuleProblems, fieldDefaults, maskedConfig, secretFields, withoutMaskedSecrets, type ConfigProblem } from '../catalog/catalog-config.js';
import type { CatalogBlueprintStore } from '../catalog/catalog-blueprint-store.js';
import type { CatalogEntry } from '../catalog/catalog-entry.js';
import { ConflictError, LimitReachedError, NotFoundError, PreconditionFailedError, ValidationError } from '../errors.js';
import type { Actor } from '../auth/actor.js';
import type { IntegrationSecrets } from '../secrets/integration-secrets.js';
import type { PageRequest } from '../shared/pagination.js';
import { importAuthOf, MASK, type DeliveryIntegration, type IntegrationRecord } from './integration.js';
import { OrgFullError, UniqueNameError, type IntegrationStore } from './integration-store.js';

/** The install body (`InstallRequest` in openapi.yaml, generated). */
export type InstallInput = components['schemas']['InstallRequest'];


/** The PATCH body (`PatchRequest` in openapi.yaml, generated). */
export type PatchInput = components['schemas']['PatchRequest'];

/** What the service needs of the delivery queue: a queue per integration, dropped on delete. */
export interface IntegrationQueues {
  drop(integrationId: string, trx: Knex.Transaction): Promise<void>;
}

export interface IntegrationServiceDeps {
  knex: Knex;
  integrations: IntegrationStore;
  catalogBlueprints: CatalogBlueprintStore;
  audit: AuditStore;
  secrets: IntegrationSecrets;
  queues: IntegrationQueues;
  /**
   * Integrations one org may have installed (not deleted) at once. Each one gets its own job, and its
   * own copy of the events, for every event the org posts: the limit bounds what one POST can cost.
   */
  maxIntegrationsPerOrg: number;
}

/** The catalog entry an installed integration was made from (it exists: vendors are never removed). */
function catalogEntryOf(rec: IntegrationRecord): CatalogEntry {
  return findCatalogEntry(rec.vendor)!;
}

function invalid(problems: ConfigProblem[]): ValidationError {
  return new ValidationError(problems.map((p) => `${p.path}: ${p.message}`).join('; '), problems);
}

/** Changes with every change of the integration (a new revision, a rename, enable/disable, a status). */
export function etagOf(rec: { revision: number; updatedAt: Date }): string {
  return `"${rec.revision}-${rec.updatedAt.getTime()}"`;
}

export class IntegrationService {
  constructor(private readonly deps: IntegrationServiceDeps) {}

  async install(actor: Actor, key: string, input: InstallInput): Promise<IntegrationRecord> {
    const entry = findCatalogEntry(key);
    if (!entry) throw new NotFoundError(`No catalog entry "${key}"`);
    const variant = input.variant ?? entry.default_variant;
    if (!entry.variants.some((v) => v.key === variant)) {
      throw invalid([{ path: 'body.variant', message: `must be one of ${entry.variants.map((v) => v.key).join(', ')}` }]);
    }
    const given: Record<string, unknown> = input.config;
    const full = { ...fieldDefaults(entry), ...given }; // what the install means, fields left out at their defaults
    const problems = configProblems(entry, input.config);
    if (problems.length > 0) throw invalid(problems);
    const ruleProblems = configRuleProblems(entry, full);
    if (ruleProblems.length > 0) throw invalid(ruleProblems);
    const publicConfig = maskedConfig(entry, full);
    const name = input.name?.trim() ?? entry.name;
    const id = randomUUID();
    try {
      await this.deps.knex.transaction(async (trx) => {
        const blueprint = await this.deps.catalogBlueprints.get(entry.key, variant, trx);
        if (!blueprint) throw new NotFoundError(`No blueprint seeded for ${entry.key}/${variant}`);
        await this.deps.integrations.insert(trx, {
          id,
          orgId: actor.orgId,
          name,
          vendor: entry.key,
          variant,
          deliveryMode: input.delivery_mode ?? 'server_side',
          createdBy: actor.userId,
        }, this.deps.maxIntegrationsPerOrg);
        await this.deps.integrations.insertRevision(trx, {
          id: randomUUID(),
          integrationId: id,
          orgId: actor.orgId,
          revisionNumber: 1,
          config: publicConfig,
          blueprint,
          deliveryMode: input.delivery_mode ?? 'server_side',
          changeSummary: `Installed ${entry.name} (${variant} variant)`,
          createdBy: actor.userId,
        });
        for (const field of secretFields(entry)) {
          if (typeof given[field] === 'string') await this.deps.secrets.save(trx, actor.orgId, id, field, given[field]);
        }
        await this.deps.audit.byActor(trx, actor, 'integration.install', { type: 'integration', id }, { old: null, new: { name, vendor: entry.key, variant, config: publicConfig } });
      });
    } catch (err) {
      if (err instanceof UniqueNameError) throw new ConflictError(`An integration named "${name}" already exists`);
      if (err instanceof OrgFullError) {
        throw new LimitReachedError(`The org already has ${err.count} integrations, the most this service allows (MAX_INTEGRATIONS_PER_ORG=${this.deps.maxIntegrationsPerOrg}); delete one first`);
      }
      throw err;
    }
    return this.get(actor.orgId, id);
  }

  /** Stores revision current + 1; what is not given is carried over from the current revision. */
  private async nextRevision(
    trx: Knex.Transaction,
    actor: Actor,
    current: IntegrationRecord,
    change: { config?: Record<string, unknown>; blueprint?: Blueprint; changeSummary: string },
  ): Promise<void> {
    await this.deps.integrations.insertRevision(trx, {
      id: randomUUID(),
      integrationId: current.id,
      orgId: actor.orgId,
      revisionNumber: current.revision + 1,
      config: maskedConfig(catalogEntryOf(current), change.config ?? current.config),
      blueprint: change.blueprint ?? current.blueprint,
      deliveryMode: current.deliveryMode,
      changeSummary: change.changeSummary,
      createdBy: actor.userId,
    });
  }

  /** Locks the integration for this transaction; 404 when absent, 412 when If-Match is stale. */
  private async lockForChange(trx: Knex.Transaction, orgId: string, id: string, ifMatch?: string): Promise<IntegrationRecord> {
    const current = await this.deps.integrations.lock(trx, orgId, id);
    if (!current) throw new NotFoundError(`No integration ${id}`);
    if (ifMatch !== undefined && ifMatch !== etagOf(current)) throw new PreconditionFailedError();
    return current;
  }

  async get(orgId: string, id: string): Promise<IntegrationRecord> {
    const rec = await this.deps.integrations.find(orgId, id);
    if (!rec) throw new NotFoundError(`No integration ${id}`);
    return rec;
  }

  /** The integration, or undefined when it does not exist (anymore) in this org. */
  find(orgId: string, id: string): Promise<IntegrationRecord | undefined> {
    return this.deps.integrations.find(orgId, id);
  }

  /**
   * Each of these integrations of its org that exists (for a worker's fetched jobs: one query, not one
   * per integration), without the blueprint where the caller holds that of its current revision
   * (`heldRevision`).
   */
  async findEach(wanted: { orgId: string; id: string; heldRevision?: number }[]): Promise<Map<string, DeliveryIntegration>> {
    const held = new Map(wanted.flatMap((w) => (w.heldRevision === undefined ? [] : [[w.id, w.heldRevision] as const])));
    const found = await this.deps.integrations.findMany([...new Set(wanted.map((w) => w.id))], held);
    const orgOf = new Map(wanted.map((w) => [w.id, w.orgId]));
    for (const [id, rec] of found) if (rec.orgId !== orgOf.get(id)) found.delete(id);
    return found;
  }

  list(orgId: string, page: PageRequest) {
    return this.deps.integrations.list(orgId, page);
  }

  /** A new revision with this blueprint (validated first); the same one as now changes nothing. */
  async replaceBlueprint(actor: Actor, id: string, blueprint: Blueprint, ifMatch?: string): Promise<IntegrationRecord> {
    const problems = blueprintProblems(blueprint);
    if (problems.length > 0) throw invalid(problems);
    await this.deps.knex.transaction(async (trx) => {
      const current = await this.lockForChange(trx, actor.orgId, id, ifMatch);
      // The same blueprint (an editor saved without a change) makes no revision, as an unchanged config
      // does not; the save is audited all the same, as every write is.
      const changed = !isDeepStrictEqual(blueprint, current.blueprint);
      if (changed) await this.nextRevision(trx, actor, current, { blueprint, changeSummary: 'Blueprint replaced' });
      const revision = changed ? current.revision + 1 : current.revision;
      await this.deps.audit.byActor(trx, actor, 'integration.blueprint.replace', { type: 'integration', id }, { old: { revision: current.revision }, new: { revision, blueprint } });
    });
    return this.get(actor.orgId, id);
  }

  /**
   * Changes name, enabled and any config field. A config change makes a new revision and lifts an
   * auth_failed hold; a new secret is sealed in place of the old one, the mask (`***`) in its place
   * keeps the stored one, null removes an optional field (and its secret).
   */
  async patch(actor: Actor, id: string, input: PatchInput, ifMatch?: string): Promise<IntegrationRecord> {
    try {
      await this.deps.knex.transaction(async (trx) => {
        const current = await this.lockForChange(trx, actor.orgId, id, ifMatch);
        const entry = findCatalogEntry(current.vendor)!;
        const changes = withoutMaskedSecrets(entry, input.config ?? {});
        const problems = configProblems(entry, changes, true);
        if (problems.length > 0) throw invalid(problems);
        const secrets = new Set(secretFields(entry));
        // With the defaults of fields added since the revision was made, as GET shows them: a form
        // sending the config back as shown changes nothing.
        const oldConfig = maskedConfig(entry, { ...fieldDefaults(entry), ...current.config });
        const newConfig: Record<string, unknown> = { ...oldConfig };
        let secretChanged = false;
        for (const [key, value] of Object.entries(changes)) {
          if (value === null) {
            // An optional field removed (a required one cannot be: see configProblems).
            if (secrets.has(key) && key in oldConfig) {
              await this.deps.secrets.remove(trx, actor.orgId, id, key);
              secretChanged = true;
            }
            delete newConfig[key];
          } else if (secrets.has(key)) {
            await this.deps.secrets.save(trx, actor.orgId, id, key, String(value));
            newConfig[key] = MASK;
            secretChanged = true;
          } else newConfig[key] = value;
        }
        const ruleProblems = configRuleProblems(entry, newConfig);
        if (ruleProblems.length > 0) throw invalid(ruleProblems);
        const configChanged = secretChanged || !isDeepStrictEqual(newConfig, oldConfig);
        if (configChanged) {
          // The fields that changed, not every field a form sent back as it was.
          const changed = Object.keys(changes).filter((key) => (secrets.has(key) && changes[key] !== null) || newConfig[key] !== oldConfig[key]).sort().join(', ');
          await this.nextRevision(trx, actor, current, { config: newConfig, changeSummary: input.change_summary ?? `Changed ${changed}` });
        }
        const row: Record<string, unknown> = {};
        if (input.name !== undefined) row.name = input.name.trim();
        if (input.enabled !== undefined) row.enabled = input.enabled;
        // Any change of the config may be the fix for refused credentials (a secret, a token, a service
        // account, the region): the hold is lifted and the next request tells.
        if (configChanged) Object.assign(row, { status: 'active', status_reason: null });
        if (Object.keys(row).length > 0) await this.deps.integrations.update(trx, actor.orgId, id, row);
        await this.deps.audit.byActor(trx, actor, 'integration.update', { type: 'integration', id }, {
            old: { name: current.name, enabled: current.enabled, config: oldConfig, revision: current.revision },
            new: {
              name: row.name ?? current.name,
              enabled: row.enabled ?? current.enabled,
              config: newConfig,
              revision: configChanged ? current.revision + 1 : current.revision,
            },
          });
      });
    } catch (err) {
      if (err instanceof UniqueNameError) throw new ConflictError(`An integration named "${input.name}" already exists`);
      throw err;
    }
    return this.get(actor.orgId, id);
  }

  async revisions(orgId: string, id: string, page: PageRequest) {
    await this.get(orgId, id);
    return this.deps.integrations.listRevisions(orgId, id, page);
  }

  /** The blueprint of revision n of the integration (revisions are kept, whatever became of it since). */
  async blueprintAt(orgId: string, id: string, n: number): Promise<Blueprint | undefined> {
    return (await this.deps.integrations.findRevision(orgId, id, n))?.blueprint;
  }

  async revision(orgId: string, id: string, n: number) {
    await this.get(orgId, id);
    const rev = await this.deps.integrations.findRevision(orgId, id, n);
    if (!rev) throw new NotFoundError(`No revision ${n} of integration ${id}`);
    return rev;
  }

  /** Makes a new revision equal to revision n (config and blueprint; the current secret stays). */
  async restore(actor: Actor, id: string, n: number, ifMatch?: string): Promise<IntegrationRecord> {
    await this.deps.knex.transaction(async (trx) => {
      const current = await this.lockForChange(trx, actor.orgId, id, ifMatch);
      const old = await this.deps.integrations.findRevision(actor.orgId, id, n, trx); // on the transaction's connection: never wait for a second one
      if (!old) throw new NotFoundError(`No revision ${n} of integration ${id}`);
      // Secrets are not kept per revision: one the old config used and a change removed since is gone.
      const stored = await this.deps.secrets.storedFields(trx, actor.orgId, id);
      const gone = secretFields(catalogEntryOf(current)).filter((f) => (old.config as unknown as Record<string, unknown>)[f] !== undefined && !stored.has(f));
      if (gone.length > 0) {
        throw invalid(gone.map((f) => ({ path: `config.${f}`, message: `was removed after revision ${n}: set it again (PATCH) before restoring that revision` })));
      }
      await this.nextRevision(trx, actor, current, {
        config: old.config,
        blueprint: old.blueprint!,
        changeSummary: `Restored revision ${n}`,
      });
      await this.deps.audit.byActor(trx, actor, 'integration.revision.restore', { type: 'integration', id }, {
          old: { revision: current.revision, config: maskedConfig(catalogEntryOf(current), current.config) },
          new: { revision: current.revision + 1, restored_from: n, config: old.config },
        });
    });
    return this.get(actor.orgId, id);
  }

  /** Removes it from lists and stops delivery; its secret is destroyed and its queue dropped. */
  async remove(actor: Actor, id: string, ifMatch?: string): Promise<void> {
    await this.deps.knex.transaction(async (trx) => {
      const current = await this.lockForChange(trx, actor.orgId, id, ifMatch);
      await this.deps.integrations.softDelete(trx, actor.orgId, id);
      await this.deps.audit.byActor(trx, actor, 'integration.delete', { type: 'integration', id }, { old: { name: current.name, enabled: current.enabled, revision: current.revision }, new: null });
      await this.deps.queues.drop(id, trx);
    });
  }

  /** Which of these still exist, in the caller's transaction (see IntegrationStore.liveIds). */
  liveIds(db: SqlExecutor, ids: string[]): Promise<Set<string>> {
    return this.deps.integrations.liveIds(db, ids);
  }

  /** Which of these delivery may run for again, and which are deleted (see IntegrationStore.deliverableOrGone). */
  deliverableOrGone(ids: string[]): Promise<{ deliverable: string[]; gone: string[] }> {
    return this.deps.integrations.deliverableOrGone(ids);
  }

  /** Delivery's view of Mixpanel for this integration: failing since (with the reason), or healthy (null). */
  setDegraded(id: string, degraded: { since: Date; reason: string } | null): Promise<void> {
    return this.deps.integrations.setDegraded(id, degraded);
  }

  /**
   * Several integrations' decrypted /import secrets (the API secret, or the service account's), by id,
   * in a query per kind, for delivery only (those without one are absent).
   */
  async importSecrets(integrations: Pick<DeliveryIntegration, 'orgId' | 'id' | 'config'>[]): Promise<Map<string, string>> {
    const byField = Map.groupBy(integrations, (i) => importAuthOf(i.config).secretField);
    const opened = await Promise.all([...byField].map(([field, ofField]) => this.deps.secrets.openMany(ofField.map((i) => ({ orgId: i.orgId, integrationId: i.id })), field)));
    return new Map(opened.flatMap((m) => [...m]));
  }

  /** The decrypted /import secret (see importSecrets), for delivery only. Never returned by the API. */
  async importSecret(integration: Pick<DeliveryIntegration, 'orgId' | 'id' | 'config'>): Promise<string> {
    const { secretField } = importAuthOf(integration.config);
    const secret = await this.deps.secrets.open(integration.orgId, integration.id, secretField);
    if (secret === undefined) throw new NotFoundError(`No ${secretField} stored for integration ${integration.id}`);
    return secret;
  }
}

