import type { Knex } from 'knex';
import * as init from '../migrations/20261128000000_init.js';
import * as delivery from '../migrations/20261128010000_delivery.js';
import * as rateLimits from '../migrations/20261128020000_rate_limits.js';
import * as deliveredByKind from '../migrations/20261129000000_delivered_by_kind.js';
import * as degraded from '../migrations/20261129010000_degraded.js';
import * as skippedNoConsent from '../migrations/20261129020000_skipped_no_consent.js';
import * as sharedDeliveryQueue from '../migrations/20261129030000_shared_delivery_queue.js';

/**
 * Migrations are listed here and imported statically, so the server, the knex CLI and jest all run
 * the same code under the same names (no file extensions in knex_migrations).
 */
const migrations: Record<string, Knex.Migration> = {
  '20261128000000_init': init,
  '20261128010000_delivery': delivery,
  '20261128020000_rate_limits': rateLimits,
  '20261129000000_delivered_by_kind': deliveredByKind,
  '20261129010000_degraded': degraded,
  '20261129020000_skipped_no_consent': skippedNoConsent,
  '20261129030000_shared_delivery_queue': sharedDeliveryQueue,
};

const source: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name],
};

export const migrationConfig: Knex.MigratorConfig = { migrationSource: source, tableName: 'knex_migrations' };
