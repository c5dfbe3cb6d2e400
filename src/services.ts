import type { Knex } from 'knex';
import { AuditStore } from './audit/audit-store.js';
import { BlueprintCache } from './blueprints/engine.js';
import { CATALOG } from './catalog/catalog.js';
import { CatalogBlueprintStore } from './catalog/catalog-blueprint-store.js';
import type { Config } from './config.js';
import { migrateLatest } from './db.js';
import { IntegrationService } from './integrations/integration-service.js';
import { IntegrationStore } from './integrations/integration-store.js';
import { SecretBox } from './secrets/secret-box.js';

/** All wiring in one place: stores, then services. Nothing else `new`s a service. */
export interface Services {
  catalogBlueprints: CatalogBlueprintStore;
  integrations: IntegrationService;
  secrets: SecretBox;
}

export function createServices(knex: Knex, config: Pick<Config, 'encryptionKeys' | 'mixpanelBaseUrls'>): Services {
  const catalogBlueprints = new CatalogBlueprintStore(knex);
  const secrets = new SecretBox(config.encryptionKeys);
  const integrations = new IntegrationService({
    knex,
    integrations: new IntegrationStore(knex),
    catalogBlueprints,
    audit: new AuditStore(),
    secrets,
    blueprints: new BlueprintCache(),
    mixpanelBaseUrls: config.mixpanelBaseUrls,
  });
  return { catalogBlueprints, integrations, secrets };
}

/** Migrations, then the catalog's variant blueprints (idempotent). */
export async function prepareDatabase(knex: Knex): Promise<void> {
  await migrateLatest(knex);
  await new CatalogBlueprintStore(knex).seed(CATALOG);
}
