import { MASK } from '../integrations/integration.js';
import type { CatalogEntry } from './catalog-entry.js';

export interface ConfigProblem {
  path: string;
  message: string;
}

/**
 * Checks a config against the catalog's field list: required, type, the field's rules, unknown keys;
 * a secret field may not be the mask (see withoutMaskedSecrets for a change).
 */
export function configProblems(entry: CatalogEntry, config: Record<string, unknown>, partial = false): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const known = new Set(entry.config_fields.map((f) => f.key));
  for (const key of Object.keys(config)) {
    if (!known.has(key)) problems.push({ path: `body.config.${key}`, message: 'is not a configuration field of this integration' });
  }
  for (const f of entry.config_fields) {
    const v = config[f.key];
    const path = `body.config.${f.key}`;
    if (partial && v === undefined) continue;
    // null leaves an optional field unset (on a change: removes it); a required one cannot be.
    if (v === undefined || v === null) {
      if (f.required) problems.push({ path, message: 'is required' });
      continue;
    }
    if (typeof v === 'string' && v.trim() === '') {
      problems.push({ path, message: f.required ? 'is required' : 'must not be empty (null removes it)' });
      continue;
    }
    if (f.type === 'secret' && v === MASK) {
      // What GET shows in its place: stored as the secret, it would fail every request (401).
      problems.push({ path, message: `is "${MASK}", the mask shown in place of the secret: send the secret itself` });
      continue;
    }
    if (f.type === 'boolean' ? typeof v !== 'boolean' : typeof v !== 'string') {
      problems.push({ path, message: `must be a ${f.type === 'boolean' ? 'boolean' : 'string'}` });
    } else if (f.validation && typeof v === 'string') {
      const { pattern, min_length: min, max_length: max } = f.validation;
      if (v.length < min || v.length > max) problems.push({ path, message: `must be ${min} to ${max} characters` });
      else if (!new RegExp(pattern, 'u').test(v)) problems.push({ path, message: `must match ${pattern}` });
    }
  }
  return problems;
}

/** The default of each field that has one (what a config that leaves the field out means). */
export function fieldDefaults(entry: CatalogEntry): Record<string, unknown> {
  return Object.fromEntries(entry.config_fields.flatMap((f) => (f.default === undefined ? [] : [[f.key, f.default]])));
}

/** The keys of the entry's secret fields (sealed apart, never shown). */
export function secretFields(entry: CatalogEntry): string[] {
  return entry.config_fields.filter((f) => f.type === 'secret').map((f) => f.key);
}

/**
 * The config as it may be shown or stored in a revision: every secret field of the entry that is set
 * masked, fields that are not set (undefined or null) left out.
 */
export function maskedConfig(entry: CatalogEntry, config: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) if (value !== undefined && value !== null) out[key] = value;
  for (const key of secretFields(entry)) if (key in out) out[key] = MASK;
  return out;
}

/** What the entry's rules across fields say of the whole config a change leads to (see config_rules). */
export function configRuleProblems(entry: CatalogEntry, config: Record<string, unknown>): ConfigProblem[] {
  return entry.config_rules?.(config) ?? [];
}

/**
 * A config change without the secret fields sent as the mask: a client that sends back the config as
 * GET showed it (`"api_secret": "***"`, one field edited) keeps the stored secret.
 */
export function withoutMaskedSecrets(entry: CatalogEntry, change: Record<string, unknown>): Record<string, unknown> {
  const secrets = new Set(secretFields(entry));
  return Object.fromEntries(Object.entries(change).filter(([key, value]) => !(secrets.has(key) && value === MASK)));
}
