import type { Blueprint } from '../blueprints/blueprint.js';

export const MASK = '***';

export type Region = 'us' | 'eu';

/** Non-secret configuration; secrets live sealed in integration_secrets. */
export interface PublicConfig {
  project_token: string;
  eu_data_residency: boolean;
}

export interface IntegrationRecord {
  id: string;
  orgId: string;
  name: string;
  vendor: string;
  variant: string;
  deliveryMode: 'server_side';
  enabled: boolean;
  status: 'active' | 'auth_failed';
  statusReason: string | null;
  /** Since when Mixpanel has been failing for it (its circuit breaker is open), and the last error. */
  degradedSince: Date | null;
  degradedReason: string | null;
  revision: number;
  config: PublicConfig;
  blueprint: Blueprint;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * An integration as delivery reads it for each batch: the blueprint, the bulk of the row, only when
 * the reader does not hold that revision's already (see IntegrationStore.findMany).
 */
export type DeliveryIntegration = Omit<IntegrationRecord, 'blueprint'> & { blueprint?: Blueprint };

export function regionOf(config: PublicConfig): Region {
  return config.eu_data_residency ? 'eu' : 'us';
}

/** The integration as the API shows it: secrets masked. */
export function toApi(rec: IntegrationRecord, withBlueprint = true) {
  return {
    id: rec.id,
    name: rec.name,
    vendor: rec.vendor,
    variant: rec.variant,
    delivery_mode: rec.deliveryMode,
    enabled: rec.enabled,
    status: rec.status,
    status_reason: rec.statusReason,
    delivery_health: rec.degradedSince ? 'degraded' : 'healthy',
    degraded_since: rec.degradedSince?.toISOString() ?? null,
    degraded_reason: rec.degradedReason,
    config: { project_token: rec.config.project_token, api_secret: MASK, eu_data_residency: rec.config.eu_data_residency },
    region: regionOf(rec.config),
    revision: rec.revision,
    ...(withBlueprint ? { blueprint: rec.blueprint } : {}),
    created_at: rec.createdAt.toISOString(),
    updated_at: rec.updatedAt.toISOString(),
  };
}
