import type { Knex } from 'knex';
import type { IntegrationStore } from '../integrations/integration-store.js';
import { secretContext, type SecretBox } from './secret-box.js';

/**
 * An integration's secret fields: sealed (AES-GCM, bound to org, integration and field) when stored,
 * opened only for delivery. The one place that puts plain secrets and ciphertext together.
 */
export class IntegrationSecrets {
  constructor(
    private readonly box: SecretBox,
    private readonly store: Pick<IntegrationStore, 'saveSecret' | 'deleteSecret' | 'secretFields' | 'loadSecret' | 'loadSecrets'>,
  ) {}

  /** Seals and stores (or replaces) one secret field, in the caller's transaction. */
  async save(trx: Knex.Transaction, orgId: string, integrationId: string, field: string, value: string): Promise<void> {
    await this.store.saveSecret(trx, integrationId, orgId, field, this.box.seal(value, secretContext(orgId, integrationId, field)));
  }

  /** Destroys one secret field (an optional one the integration no longer uses), in the caller's transaction. */
  async remove(trx: Knex.Transaction, orgId: string, integrationId: string, field: string): Promise<void> {
    await this.store.deleteSecret(trx, orgId, integrationId, field);
  }

  /** Which fields have a secret stored, in the caller's transaction. */
  storedFields(trx: Knex.Transaction, orgId: string, integrationId: string): Promise<Set<string>> {
    return this.store.secretFields(trx, orgId, integrationId);
  }

  /** The plain value, or undefined when none is stored. */
  async open(orgId: string, integrationId: string, field: string): Promise<string | undefined> {
    const sealed = await this.store.loadSecret(orgId, integrationId, field);
    return sealed && this.box.open(sealed, secretContext(orgId, integrationId, field));
  }

  /**
   * The plain values of several integrations' field, by integration id, read in one query. Those with
   * none stored, or whose secret cannot be opened, are absent (`open` says why for each of those).
   */
  async openMany(wanted: { orgId: string; integrationId: string }[], field: string): Promise<Map<string, string>> {
    const sealed = await this.store.loadSecrets(wanted, field);
    const orgOf = new Map(wanted.map((w) => [w.integrationId, w.orgId]));
    const opened = new Map<string, string>();
    for (const [id, s] of sealed) {
      try {
        opened.set(id, this.box.open(s, secretContext(orgOf.get(id)!, id, field)));
      } catch {
        // left to `open`, which fails that integration's delivery alone, with the reason
      }
    }
    return opened;
  }
}
