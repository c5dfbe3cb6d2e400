import type { Knex } from 'knex';
import pg from 'pg';
import { AuditStore } from './audit/audit-store.js';
import { BlueprintCache } from './blueprints/engine.js';
import { CATALOG } from './catalog/catalog.js';
import { CatalogBlueprintStore } from './catalog/catalog-blueprint-store.js';
import type { Config } from './config.js';
import { createKnex, migrateLatest } from './db.js';
import { Readiness } from './readiness.js';
import { MixpanelClient } from './destinations/mixpanel/client.js';
import { BatchProcessor } from './delivery/batch-processor.js';
import { DeliveryAdminService } from './delivery/delivery-admin-service.js';
import { DeliveryPreview } from './delivery/delivery-preview.js';
import { DeliveryQueue } from './delivery/delivery-queue.js';
import { JobNotifications } from './delivery/job-notifications.js';
import { DeliveryStore } from './delivery/delivery-store.js';
import { DeliveryWorker } from './delivery/delivery-worker.js';
import { DeliveryMetrics, MetricsExport } from './delivery/metrics.js';
import { DatabaseOutageLog } from './shared/database-outage-log.js';
import { EventValidator } from './ingest/event-validator.js';
import { IngestKeyStore } from './ingest/ingest-key-store.js';
import { IngestMetrics } from './ingest/ingest-metrics.js';
import { IngestService } from './ingest/ingest-service.js';
import { IntegrationService } from './integrations/integration-service.js';
import { IntegrationStore } from './integrations/integration-store.js';
import type { Logger } from './logger.js';
import { IntegrationSecrets } from './secrets/integration-secrets.js';
import { SecretBox } from './secrets/secret-box.js';
import { SPEC_PATH } from './spec.js';

/** All wiring in one place: stores, then services. Nothing else `new`s a service. */
export interface Services {
  catalogBlueprints: CatalogBlueprintStore;
  integrations: IntegrationService;
  /** Made on first use, like metricsExport: a delivery thread never ingests (its validator compiles the contract). */
  readonly ingest: IngestService;
  delivery: DeliveryAdminService;
  preview: DeliveryPreview;
  audit: AuditStore;
  secrets: SecretBox;
  /** This process's delivery counters (updated by workers on its event loop). */
  metrics: DeliveryMetrics;
  /** Ingest's counters (POST /v1/events answers, events accepted and rejected). */
  ingestMetrics: IngestMetrics;
  /** GET /metrics (made on first use: a delivery thread never serves it). */
  readonly metricsExport: MetricsExport;
  queue: DeliveryQueue;
  /** /readyz's view of the database, on a connection of its own. */
  readiness: Readiness;
  /** A delivery worker over these services (not started). */
  createWorker(logger: Logger): DeliveryWorker;
  close(): Promise<void>;
}

type ServiceConfig = Pick<Config, 'encryptionKeys' | 'mixpanelBaseUrls' | 'mixpanelProxy' | 'delivery' | 'dbPoolMax' | 'dbAcquireTimeoutMs' | 'ingestCommitsInFlight' | 'ingestRequestsPerCommit' | 'ingestKeyRevocationCheckMs' | 'ingestAuthFailuresPerMinute' | 'maxIntegrationsPerOrg'>;

export async function createServices(knex: Knex, databaseUrl: string, config: ServiceConfig, logger: Logger): Promise<Services> {
  const databaseLog = new DatabaseOutageLog(logger);
  const queue = await DeliveryQueue.start(databaseUrl, knex, {
    expireInSeconds: config.delivery.jobExpireSeconds,
    maintenanceSeconds: config.delivery.queueMaintenanceSeconds,
    poolMax: config.delivery.queuePoolMax,
    onError: (err) => databaseLog.error(err, 'job queue error'),
  });
  const readiness = new Readiness(createKnex(databaseUrl, 1, 1000));
  const catalogBlueprints = new CatalogBlueprintStore(knex);
  const integrationStore = new IntegrationStore(knex);
  const secrets = new SecretBox(config.encryptionKeys);
  const audit = new AuditStore(knex);
  const blueprints = new BlueprintCache();
  const store = new DeliveryStore(knex);
  const metrics = new DeliveryMetrics();
  const ingestMetrics = new IngestMetrics();
  const client = new MixpanelClient({ timeoutMs: config.delivery.requestTimeoutMs, gzipLevel: config.delivery.gzipLevel, proxy: config.mixpanelProxy });
  const integrations = new IntegrationService({
    knex,
    integrations: integrationStore,
    catalogBlueprints,
    audit,
    secrets: new IntegrationSecrets(secrets, integrationStore),
    queues: queue,
    maxIntegrationsPerOrg: config.maxIntegrationsPerOrg,
  });
  const delivery = new DeliveryAdminService({ knex, integrations, store, queue, audit });
  const processor = new BatchProcessor({ knex, integrations: integrationStore, queue, store, client, config: config.delivery, baseUrls: config.mixpanelBaseUrls, metrics });
  // Made on first use: a delivery thread builds these services too, and needs neither.
  let ingest: IngestService | undefined;
  let metricsExport: MetricsExport | undefined;
  return {
    catalogBlueprints,
    integrations,
    get ingest() {
      return (ingest ??= new IngestService({ knex, keys: new IngestKeyStore(knex), integrations: integrationStore, queue, validator: new EventValidator(SPEC_PATH), audit, commits: { inFlight: config.ingestCommitsInFlight, requestsPerCommit: config.ingestRequestsPerCommit }, revocationCheckMs: config.ingestKeyRevocationCheckMs, authFailuresPerMinute: config.ingestAuthFailuresPerMinute, metrics: ingestMetrics, logger }));
    },
    delivery,
    preview: new DeliveryPreview({ integrations, blueprints, baseUrls: config.mixpanelBaseUrls }),
    audit,
    secrets,
    metrics,
    ingestMetrics,
    get metricsExport() {
      return (metricsExport ??= new MetricsExport(knex, [metrics.registry, ingestMetrics.registry]));
    },
    queue,
    readiness,
    createWorker: (workerLogger) =>
      new DeliveryWorker({
        queue,
        processor,
        integrations,
        blueprints,
        store,
        config: config.delivery,
        logger: workerLogger,
        databaseLog,
        notifications: new JobNotifications(databaseUrl, databaseLog),
        metrics,
      }),
    async close() {
      await ingest?.flushLastUsed();
      await readiness.close();
      await queue.stop();
      client.close();
    },
  };
}

/**
 * Migrates, then seeds the catalog's variant blueprints (idempotent). Processes starting together (an API and its workers) take turns
 * under a PostgreSQL advisory lock held on a connection of its own: knex's migration lock is a table,
 * which two processes on a fresh database would both try to create.
 */
export async function prepareDatabase(knex: Knex, url: string): Promise<void> {
  const lock = new pg.Client({ connectionString: url });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(hashtext($1))', ['mixpanel-delivery:prepare-database']);
    await migrateLatest(knex);
    await new CatalogBlueprintStore(knex).seed(CATALOG);
  } finally {
    await lock.end(); // ends the session, so releases the lock
  }
}
