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
    private readonly store: Pick<IntegrationStore, 'saveSecret' | 'loadSecret'>,
  ) {}

  /** Seals and stores (or replaces) one secret field, in the caller's transaction. */
  async save(trx: Knex.Transaction, orgId: string, integrationId: string, field: string, value: string): Promise<void> {
    await this.store.saveSecret(trx, integrationId, orgId, field, this.box.seal(value, secretContext(orgId, integrationId, field)));
  }

  /** The plain value, or undefined when none is stored. */
  async open(orgId: string, integrationId: string, field: string): Promise<string | undefined> {
    const sealed = await this.store.loadSecret(orgId, integrationId, field);
    return sealed && this.box.open(sealed, secretContext(orgId, integrationId, field));
  }
}
