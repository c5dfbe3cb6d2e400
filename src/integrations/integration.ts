import type { Blueprint } from '../blueprints/blueprint.js';

export const MASK = '***';

export type Region = 'us' | 'eu' | 'in';

/**
 * Configuration as stored in a revision: secret fields only as the mask (when set); the secrets
 * themselves live sealed in integration_secrets.
 */
export interface PublicConfig {
  project_token: string;
  api_secret?: typeof MASK;
  eu_data_residency: boolean;
  /** Absent in revisions made before the field existed: false. */
  in_data_residency?: boolean;
  /** A service account authenticates /import instead of the API secret, with its project's id. */
  service_account_username?: string;
  service_account_secret?: typeof MASK;
  project_id?: string;
}

/** How /import is authenticated: HTTP Basic user and password, and the project id a service account needs. */
export interface ImportAuth {
  /** The secret field delivery opens for it. */
  secretField: 'api_secret' | 'service_account_secret';
  user?: string;
  projectId?: string;
}

export function importAuthOf(config: PublicConfig): ImportAuth {
  return config.service_account_username
    ? { secretField: 'service_account_secret', user: config.service_account_username, projectId: config.project_id }
    : { secretField: 'api_secret' };
}

/** The Basic credential (`user:password`) of /import: a service account's, or the API secret as the user. */
export function basicCredential(auth: ImportAuth, secret: string): string {
  return auth.user === undefined ? `${secret}:` : `${auth.user}:${secret}`;
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
  return config.eu_data_residency ? 'eu' : config.in_data_residency ? 'in' : 'us';
}

/** The config as the API shows it: every field, secrets masked, the optional ones only when set. */
export function apiConfig(config: PublicConfig) {
  const { project_token, eu_data_residency, in_data_residency, service_account_username, project_id } = config;
  return {
    project_token,
    api_secret: MASK,
    eu_data_residency,
    in_data_residency: in_data_residency ?? false,
    ...(service_account_username ? { service_account_username, service_account_secret: MASK, project_id } : {}),
  };
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
    config: apiConfig(rec.config),
    region: regionOf(rec.config),
    revision: rec.revision,
    ...(withBlueprint ? { blueprint: rec.blueprint } : {}),
    created_at: rec.createdAt.toISOString(),
    updated_at: rec.updatedAt.toISOString(),
  };
}
