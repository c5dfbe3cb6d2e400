import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { makeDirectory } from './shared/make-directory.js';

/** Every setting of the service, read and checked once from the environment. */
export interface Config {
  env: string;
  port: number;
  /** `npm run worker` serves GET /metrics on this port when set (its delivery counters are its own). */
  workerMetricsPort?: number;
  dataDir: string;
  databaseUrl?: string;
  embeddedPgPort: number;
  jwtSecret: string;
  jwtIssuer?: string;
  jwtAudience?: string;
  /** Encryption keys, the first one is current. */
  encryptionKeys: EncryptionKeySetting[];
  logLevel: string;
  /** Validate every response against openapi.yaml (always on in tests). */
  validateResponses: boolean;
  /** Mixpanel API base URL per region (overridable for tests and proxies). */
  mixpanelBaseUrls: Record<'us' | 'eu' | 'in', string>;
  /**
   * The egress proxy requests to Mixpanel go through (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, as Node's
   * built-in proxy support reads them); empty without one.
   */
  mixpanelProxy: MixpanelProxy;
  delivery: DeliveryConfig;
  /** Run delivery workers inside the API server (set false when `npm run worker` processes do it). */
  workersInProcess: boolean;
  /**
   * Delivery threads started inside the API server when workersInProcess: each runs a delivery
   * worker on a core of its own, off the event loop that serves the API; 0 runs delivery on it.
   */
  deliveryThreads: number;
  ingestMaxBodyBytes: number;
  /** Bytes of POST /v1/events bodies an API process holds at once (read, or waiting to be queued); past it, 503. */
  ingestMaxPendingBytes: number;
  /** Transactions queueing accepted events at once; requests accepted meanwhile share the next one (up to ingestRequestsPerCommit). */
  ingestCommitsInFlight: number;
  ingestRequestsPerCommit: number;
  /** How often an API process looks for keys revoked through another one (the most a revoked key keeps working there). */
  ingestKeyRevocationCheckMs: number;
  /** Unknown ingestion keys one client (IP) may try per minute before its uncached keys are answered 429 unlooked-up. */
  ingestAuthFailuresPerMinute: number;
  /** Integrations one org may have installed at once (each one multiplies what the org's POSTs cost). */
  maxIntegrationsPerOrg: number;
  /** Connections of the API's database pool, and how long a request waits for one before it answers 503. */
  dbPoolMax: number;
  dbAcquireTimeoutMs: number;
  /** Management API requests per user per minute. */
  rateLimitPerMinute: number;
  /** Origins allowed to call the API from a browser (the Management UI); none when empty. */
  corsOrigins: string[];
  /**
   * How long the API keeps an idle keep-alive connection open: longer than a load balancer's own idle
   * timeout (60 s on the common ones), or it reuses a connection the server has just closed and answers 502.
   */
  httpKeepAliveTimeoutMs: number;
  /** Which proxies' X-Forwarded-For gives the client's address (key guessing is counted per client; the audit log's ip). */
  trustProxy: TrustProxy;
  /** When set, GET /metrics needs `Authorization: Bearer <this>` (Prometheus: `authorization.credentials`). */
  metricsToken?: string;
  /** Served over HTTPS: send Strict-Transport-Security with this max-age (and CSP upgrade-insecure-requests). */
  hstsMaxAgeSeconds?: number;
  /** Messages about generated development secrets, for the start-up log. */
  notices: string[];
}

export interface DeliveryConfig {
  /** Requests in flight per integration (it shrinks while Mixpanel answers 429). */
  concurrency: number;
  maxAttempts: number;
  maxAgeMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Attempts retried with the short back-off before the rest are spread over the window. */
  shortRetries: number;
  /** Batches in a row failing transiently that open an integration's circuit breaker. */
  breakerThreshold: number;
  /** While it is open: how often one batch is let through to see whether Mixpanel is back. */
  breakerProbeMs: number;
  /** Fetch loops per worker (thread or process): a fixed number, whatever the number of integrations. */
  fetchLoops: number;
  /** Jobs taken per fetch (each ≤ 1000 events). */
  jobsPerFetch: number;
  /** After a fetch that took every due job (an empty one too), the least time before the loop fetches again (jobs queued meanwhile share a fetch). */
  fetchGapMs: number;
  /** Jobs of one integration delivered together (their events share requests and one commit); batches run side by side. */
  jobsPerBatch: number;
  /** Jobs of one integration active at once, across every worker (pg-boss groupConcurrency). */
  jobsPerIntegration: number;
  /** Jobs a worker delivers at once, all integrations together. */
  jobsInFlight: number;
  /** Transactions a worker commits delivered batches in at once; batches done meanwhile share the next one. */
  commitsInFlight: number;
  /** Delivered batches (of any integrations) committed in one transaction at most. */
  batchesPerCommit: number;
  /** How often an idle worker looks for due jobs that no notification announced (delayed retries, expired jobs). */
  sweepMs: number;
  requestTimeoutMs: number;
  /** How long held jobs (auth failed, disabled) wait before they are looked at again. */
  holdMs: number;
  gzipLevel: number;
  logRetentionHours: number;
  /** A job active longer than this is taken to belong to a dead worker and is handed out again. */
  jobExpireSeconds: number;
  /** How often pg-boss looks for expired jobs. */
  queueMaintenanceSeconds: number;
  /** pg-boss connection pool size. */
  queuePoolMax: number;
}

export interface EncryptionKeySetting {
  id: string;
  key: Buffer;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

/** `true`/`1` or `false`/`0`; anything else is a mistake worth stopping for (`no` used to mean true). */
function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/** The URL, or undefined when the text is not one. */
function urlOf(raw: string): URL | undefined {
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}

/** A comma-separated setting's entries, trimmed, empty ones left out. */
function commaList(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((e) => e.trim()).filter(Boolean);
}

const isHttp = (url: URL | undefined) => url?.protocol === 'http:' || url?.protocol === 'https:';

/** A PostgreSQL connection URL, or undefined (the embedded PostgreSQL). */
function databaseUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const protocol = urlOf(raw)?.protocol;
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL must be a PostgreSQL URL, e.g. postgresql://user:password@host:5432/database');
  }
  return raw;
}

/** An http(s) base URL (a Mixpanel host, a stand-in or a proxy): a typo stops the start, not every batch. */
function httpUrl(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (!raw) return fallback;
  const url = urlOf(raw);
  if (!url || !isHttp(url) || url.search || url.hash) {
    throw new ConfigError(`${name} must be an http(s) base URL without query, e.g. https://api.mixpanel.com, got "${raw}"`);
  }
  return raw;
}

/** Express's `trust proxy`: the proxies whose X-Forwarded-For names the client, or how many hops; all or none. */
export type TrustProxy = string[] | number | boolean;

const TRUST_PRESETS = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * TRUST_PROXY: `loopback` by default; a comma-separated list of addresses, CIDR subnets and the names
 * loopback, linklocal, uniquelocal; a number of hops; or true/false. A typo stops the start: express
 * would otherwise throw on the first request, or trust what it should not.
 */
function trustProxy(raw: string | undefined): TrustProxy {
  if (!raw) return ['loopback'];
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (/^\d+$/.test(raw)) return Number(raw);
  const entries = commaList(raw);
  for (const entry of entries) {
    const valid = TRUST_PRESETS.includes(entry) || ipaddr.isValid(entry) || isCidr(entry);
    if (!valid) throw new ConfigError(`TRUST_PROXY entries must be addresses, subnets (10.0.0.0/8) or ${TRUST_PRESETS.join(', ')}; got "${entry}"`);
  }
  return entries;
}

function isCidr(text: string): boolean {
  try {
    ipaddr.parseCIDR(text);
    return true;
  } catch {
    return false;
  }
}

/** Node's built-in proxy support's settings (an agent's `proxyEnv`). */
export interface MixpanelProxy {
  HTTPS_PROXY?: string;
  HTTP_PROXY?: string;
  NO_PROXY?: string;
}

/**
 * The proxy settings of the environment, each in either case (the lower-case one first, as Node and
 * curl read them); a proxy that is not an http(s) URL stops the start.
 */
function mixpanelProxy(env: Env): MixpanelProxy {
  const proxy: MixpanelProxy = {};
  for (const name of ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY'] as const) {
    const raw = env[name.toLowerCase()] || env[name];
    if (!raw) continue;
    if (name !== 'NO_PROXY' && !isHttp(urlOf(raw))) throw new ConfigError(`${name} must be an http(s) URL of a proxy, e.g. http://proxy.internal:3128`);
    proxy[name] = raw;
  }
  return proxy;
}

/** A proxy URL to show: without its credentials. */
export function describeProxy(raw: string): string {
  const url = new URL(raw);
  return `${url.protocol}//${url.host}`;
}

/**
 * Browser origins (`scheme://host[:port]`, as the Origin header carries them): one written as a URL
 * (`https://ui.example.com/`) would never match and fail silently, so it stops the start instead.
 */
function corsOrigins(raw: string | undefined): string[] {
  const origins = commaList(raw);
  for (const origin of origins) {
    if (urlOf(origin)?.origin !== origin) throw new ConfigError(`CORS_ORIGINS entries must be origins like https://ui.example.com (no path or trailing slash), got "${origin}"`);
  }
  return origins;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function logLevel(raw: string | undefined, fallback: string): string {
  if (!raw) return fallback;
  if (!LOG_LEVELS.includes(raw)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return raw;
}

/** Parses one base64 key; it must decode to exactly 32 bytes (AES-256). */
export function parseKey(name: string, b64: string): Buffer {
  const key = Buffer.from(b64.trim(), 'base64');
  if (key.length !== 32) throw new ConfigError(`${name} must be the base64 encoding of 32 bytes`);
  return key;
}

/** `ENCRYPTION_KEYS="id1:base64,id2:base64"` (first is current) or a single `ENCRYPTION_KEY`. */
export function parseEncryptionKeys(env: Env): EncryptionKeySetting[] | undefined {
  if (env.ENCRYPTION_KEYS) {
    const keys = env.ENCRYPTION_KEYS.split(',').map((entry) => {
      const at = entry.indexOf(':');
      const id = entry.slice(0, at).trim();
      if (at < 1 || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
        throw new ConfigError('ENCRYPTION_KEYS entries must look like "<key id>:<base64 of 32 bytes>"');
      }
      return { id, key: parseKey(`ENCRYPTION_KEYS[${id}]`, entry.slice(at + 1)) };
    });
    if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new ConfigError('ENCRYPTION_KEYS has a duplicate key id');
    return keys;
  }
  if (env.ENCRYPTION_KEY) return [{ id: 'k1', key: parseKey('ENCRYPTION_KEY', env.ENCRYPTION_KEY) }];
  return undefined;
}

interface DevSecrets {
  jwt_secret: string;
  encryption_key: string;
}

/** Development only: secrets generated once into DATA_DIR/secrets.json (mode 0600). */
function loadOrCreateDevSecrets(dataDir: string, notices: string[]): DevSecrets {
  const file = path.join(dataDir, 'secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
  try {
    makeDirectory(dataDir);
  } catch (err) {
    throw new ConfigError(`DATA_DIR ${dataDir} cannot be created (${(err as NodeJS.ErrnoException).code ?? String(err)}): set DATA_DIR to a writable folder`);
  }
  const secrets: DevSecrets = {
    jwt_secret: randomBytes(48).toString('base64'),
    encryption_key: randomBytes(32).toString('base64'),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  chmodSync(file, 0o600);
  notices.push(`generated JWT_SECRET and ENCRYPTION_KEY into ${file} (development only; set both in production)`);
  return secrets;
}

export function loadConfig(env: Env = process.env): Config {
  const notices: string[] = [];
  const nodeEnv = env.NODE_ENV ?? 'development';
  const production = nodeEnv === 'production';
  const dataDir = path.resolve(env.DATA_DIR || './.data');

  let jwtSecret = env.JWT_SECRET;
  let encryptionKeys = parseEncryptionKeys(env);
  if (!jwtSecret || !encryptionKeys) {
    if (production) {
      const missing = [!jwtSecret && 'JWT_SECRET', !encryptionKeys && 'ENCRYPTION_KEY (or ENCRYPTION_KEYS)'].filter(Boolean);
      throw new ConfigError(`NODE_ENV=production requires ${missing.join(' and ')} to be set`);
    }
    const dev = loadOrCreateDevSecrets(dataDir, notices);
    jwtSecret ??= dev.jwt_secret;
    encryptionKeys ??= [{ id: 'k1', key: parseKey('DATA_DIR/secrets.json encryption_key', dev.encryption_key) }];
  }
  if (jwtSecret.length < 32) throw new ConfigError('JWT_SECRET must be at least 32 characters');
  if (production && !env.METRICS_TOKEN) notices.push('GET /metrics is open to anyone who reaches the port: set METRICS_TOKEN');

  return {
    env: nodeEnv,
    port: int(env, 'PORT', 8084, 0, 65535),
    workerMetricsPort: env.WORKER_METRICS_PORT ? int(env, 'WORKER_METRICS_PORT', 0, 0, 65535) : undefined,
    dataDir,
    databaseUrl: databaseUrl(env.DATABASE_URL),
    embeddedPgPort: int(env, 'EMBEDDED_PG_PORT', 54329, 1, 65535),
    jwtSecret,
    jwtIssuer: env.JWT_ISSUER || undefined,
    jwtAudience: env.JWT_AUDIENCE || undefined,
    encryptionKeys,
    logLevel: logLevel(env.LOG_LEVEL, nodeEnv === 'test' ? 'silent' : 'info'),
    validateResponses: bool(env, 'VALIDATE_RESPONSES', nodeEnv === 'test'),
    delivery: {
      concurrency: int(env, 'DELIVERY_CONCURRENCY', 10, 1, 100),
      maxAttempts: int(env, 'DELIVERY_MAX_ATTEMPTS', 5, 1, 100),
      maxAgeMs: env.DELIVERY_MAX_AGE_SECONDS
        ? int(env, 'DELIVERY_MAX_AGE_SECONDS', 86_400, 1, 7 * 86_400) * 1000
        : int(env, 'DELIVERY_MAX_AGE_HOURS', 24, 1, 24 * 7) * 3600_000,
      shortRetries: int(env, 'DELIVERY_SHORT_RETRIES', 3, 0, 100),
      breakerThreshold: int(env, 'DELIVERY_BREAKER_THRESHOLD', 3, 1, 10_000),
      breakerProbeMs: int(env, 'DELIVERY_BREAKER_PROBE_MS', 15_000, 10, 3_600_000),
      retryBaseMs: int(env, 'DELIVERY_RETRY_BASE_MS', 2000, 1),
      retryMaxMs: int(env, 'DELIVERY_RETRY_MAX_MS', 60_000, 1),
      fetchLoops: int(env, 'DELIVERY_FETCH_LOOPS', 2, 1, 32),
      jobsPerFetch: int(env, 'DELIVERY_JOBS_PER_FETCH', 12, 1, 1000),
      fetchGapMs: int(env, 'DELIVERY_FETCH_GAP_MS', 50, 0, 1000),
      jobsPerBatch: int(env, 'DELIVERY_JOBS_PER_BATCH', 4, 1, 1000),
      jobsPerIntegration: int(env, 'DELIVERY_JOBS_PER_INTEGRATION', 12, 1, 1000),
      jobsInFlight: int(env, 'DELIVERY_JOBS_IN_FLIGHT', 48, 1, 10_000),
      commitsInFlight: int(env, 'DELIVERY_COMMITS_IN_FLIGHT', 1, 1, 100),
      batchesPerCommit: int(env, 'DELIVERY_BATCHES_PER_COMMIT', 16, 1, 1000),
      sweepMs: int(env, 'DELIVERY_SWEEP_MS', 1000, 10, 60_000),
      requestTimeoutMs: int(env, 'DELIVERY_TIMEOUT_MS', 30_000, 100),
      holdMs: int(env, 'DELIVERY_HOLD_MS', 30_000, 10),
      gzipLevel: int(env, 'DELIVERY_GZIP_LEVEL', 1, 0, 9),
      logRetentionHours: int(env, 'DELIVERY_LOG_RETENTION_HOURS', 72, 1),
      jobExpireSeconds: int(env, 'DELIVERY_JOB_EXPIRE_SECONDS', 120, 1),
      queueMaintenanceSeconds: int(env, 'QUEUE_MAINTENANCE_SECONDS', 30, 1),
      queuePoolMax: int(env, 'QUEUE_POOL_MAX', 10, 2, 200),
    },
    workersInProcess: bool(env, 'WORKERS_IN_PROCESS', true),
    deliveryThreads: int(env, 'DELIVERY_THREADS', 1, 0, 16),
    ingestMaxBodyBytes: int(env, 'INGEST_MAX_BODY_BYTES', 5 * 1024 * 1024, 1024),
    ingestMaxPendingBytes: int(env, 'INGEST_MAX_PENDING_BYTES', 128 * 1024 * 1024, 1024),
    ingestCommitsInFlight: int(env, 'INGEST_COMMITS_IN_FLIGHT', 1, 1, 100),
    ingestRequestsPerCommit: int(env, 'INGEST_REQUESTS_PER_COMMIT', 16, 1, 1000),
    ingestKeyRevocationCheckMs: int(env, 'INGEST_KEY_REVOCATION_CHECK_MS', 5000, 10, 60_000),
    ingestAuthFailuresPerMinute: int(env, 'INGEST_AUTH_FAILURES_PER_MINUTE', 100, 1),
    maxIntegrationsPerOrg: int(env, 'MAX_INTEGRATIONS_PER_ORG', 50, 1, 10_000),
    dbPoolMax: int(env, 'DB_POOL_MAX', 10, 1, 200),
    dbAcquireTimeoutMs: int(env, 'DB_ACQUIRE_TIMEOUT_MS', 2000, 10, 60_000),
    rateLimitPerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 100, 1),
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
    trustProxy: trustProxy(env.TRUST_PROXY),
    httpKeepAliveTimeoutMs: int(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 65_000, 1000, 3_600_000),
    metricsToken: env.METRICS_TOKEN || undefined,
    hstsMaxAgeSeconds: env.HSTS_MAX_AGE_SECONDS ? int(env, 'HSTS_MAX_AGE_SECONDS', 0, 0, 2 * 365 * 86400) : undefined,
    mixpanelBaseUrls: {
      us: httpUrl(env, 'MIXPANEL_US_URL', 'https://api.mixpanel.com'),
      eu: httpUrl(env, 'MIXPANEL_EU_URL', 'https://api-eu.mixpanel.com'),
      in: httpUrl(env, 'MIXPANEL_IN_URL', 'https://api-in.mixpanel.com'),
    },
    mixpanelProxy: mixpanelProxy(env),
    notices,
  };
}
