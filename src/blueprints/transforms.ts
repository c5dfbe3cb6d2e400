import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import UAParser from 'ua-parser-js';
import type { Transform } from './blueprint.js';
import { isRecord } from './paths.js';

/** A transform turns a value into another; `undefined` means "no value". */
export type TransformFn = (value: unknown, format?: string) => unknown;

function toNumber(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function toBoolean(v: unknown): unknown {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 1 || v === '1') return true;
  if (v === 'false' || v === 0 || v === '0') return false;
  return undefined;
}

function mapString(fn: (s: string) => string): TransformFn {
  return (v) => (typeof v === 'string' ? fn(v) : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? fn(x) : x)) : v);
}

function isoToMs(v: unknown): unknown {
  if (typeof v === 'number') return v < 1e11 ? Math.round(v * 1000) : Math.round(v);
  if (typeof v !== 'string') return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
}

export interface ParsedUserAgent {
  $browser?: string;
  $browser_version?: string;
  $os?: string;
  $device?: string;
}

/** `fn` remembered for the last 5,000 strings it was given: user agents and URLs repeat. */
function memoized<T>(fn: (s: string) => T): (s: string) => T {
  const cache = new LRUCache<string, { value: T }>({ max: 5000 });
  return (s) => {
    let hit = cache.get(s);
    if (!hit) {
      hit = { value: fn(s) };
      cache.set(s, hit);
    }
    return hit.value;
  };
}

const uaParser = new UAParser();

/** Parses with ua-parser-js (maintained, MIT). */
const parseUa = memoized((ua): ParsedUserAgent => {
  uaParser.setUA(ua);
  const r = uaParser.getResult();
  const out: ParsedUserAgent = {};
  if (r.browser.name) out.$browser = r.browser.name;
  if (r.browser.version) out.$browser_version = r.browser.version;
  if (r.os.name) out.$os = r.os.name;
  if (r.device.model) out.$device = r.device.model;
  else if (r.device.type) out.$device = r.device.type;
  return out;
});

export function parseUserAgent(v: unknown): ParsedUserAgent | undefined {
  return typeof v === 'string' && v !== '' ? parseUa(v) : undefined;
}

function urlPart(part: 'host' | 'path'): TransformFn {
  const of = memoized((url) => {
    try {
      const u = new URL(url);
      return part === 'host' ? u.hostname : u.pathname;
    } catch {
      return undefined;
    }
  });
  return (v) => (typeof v === 'string' && v !== '' ? of(v) : undefined);
}

const UTM_KEYS: Record<string, string> = { name: 'utm_campaign', id: 'utm_id', campaign_id: 'utm_id' };

/** Campaign keys seen so far → their utm_ names (a bounded set: SDKs use a handful of keys). */
const utmKeys = new Map<string, string>();

/** The utm_* value of one campaign key: `name` → utm_campaign, `id` → utm_id, `foo` and `utm_foo` → utm_foo. */
function utmKey(key: string): string {
  let k = utmKeys.get(key);
  if (k === undefined) {
    k = Object.hasOwn(UTM_KEYS, key) ? UTM_KEYS[key] : key.startsWith('utm_') ? key : `utm_${key}`;
    if (utmKeys.size < 1000) utmKeys.set(key, k);
  }
  return k;
}

function isScalar(v: unknown): v is string | number | boolean {
  return (typeof v === 'string' && v !== '') || typeof v === 'number' || typeof v === 'boolean';
}

/** `context.campaign` → every utm_* property (the five, utm_id and any other parameter the SDK kept). */
function campaignUtm(v: unknown): unknown {
  if (!isRecord(v)) return undefined;
  const out: Record<string, unknown> = {};
  let any = false;
  for (const key in v) {
    const value = v[key];
    if (!isScalar(value)) continue;
    const k = utmKey(key);
    if (k === 'utm_id' && out.utm_id !== undefined && key !== 'id') continue; // `id` wins over `campaign_id`
    out[k] = value;
    any = true;
  }
  return any ? out : undefined;
}

/** The utm_* parameters of a URL's (or a bare search string's) query, as properties; undefined when none. */
function urlUtm(): TransformFn {
  const of = memoized((url) => {
    let value: Record<string, string> | undefined;
    const q = url.indexOf('?');
    for (const [key, param] of new URLSearchParams(q === -1 ? '' : url.slice(q + 1).split('#')[0])) {
      if (key.startsWith('utm_') && key.length > 4 && param !== '') (value ??= {})[key] = param;
    }
    return value;
  });
  return (v) => {
    if (typeof v !== 'string' || !v.includes('utm_')) return undefined; // the usual case costs one scan
    const params = of(v);
    return params && { ...params }; // a copy: the remembered one is never handed out
  };
}

/** `name`, else the first and last names (firstName/lastName or first_name/last_name) joined; a string stays as it is. */
function fullName(v: unknown): unknown {
  if (typeof v === 'string') return v.trim() === '' ? undefined : v;
  if (!isRecord(v)) return undefined;
  if (typeof v.name === 'string' && v.name.trim() !== '') return v.name;
  const part = (a: string, b: string) => {
    const s = typeof v[a] === 'string' ? (v[a] as string) : typeof v[b] === 'string' ? (v[b] as string) : '';
    return s.trim();
  };
  const joined = [part('firstName', 'first_name'), part('lastName', 'last_name')].filter((s) => s !== '').join(' ');
  return joined === '' ? undefined : joined;
}

/** The documented transforms (see README). Unknown names are rejected when a blueprint is validated. */
export const TRANSFORMS: Record<Transform, TransformFn> = {
  to_number: toNumber,
  to_string: (v) => (v === undefined || v === null ? undefined : typeof v === 'object' ? JSON.stringify(v) : String(v)),
  to_boolean: toBoolean,
  lowercase: mapString((s) => s.toLowerCase()),
  uppercase: mapString((s) => s.toUpperCase()),
  trim: mapString((s) => s.trim()),
  iso_to_ms: isoToMs,
  join: (v, sep = ',') => (Array.isArray(v) ? v.join(sep) : v),
  first: (v) => (Array.isArray(v) ? v[0] : v),
  count: (v) => (Array.isArray(v) ? v.length : undefined),
  sha256: (v) =>
    v === undefined || v === null || v === '' ? undefined : createHash('sha256').update(String(v).trim().toLowerCase()).digest('hex'),
  parse_user_agent: parseUserAgent,
  url_host: urlPart('host'),
  url_path: urlPart('path'),
  url_utm: urlUtm(),
  campaign_utm: campaignUtm,
  full_name: fullName,
  prefix_keys: (v, prefix = '') => {
    if (!isRecord(v)) return v;
    const out: Record<string, unknown> = {};
    for (const k in v) out[prefix + k] = v[k];
    return out;
  },
};

export const TRANSFORM_NAMES = Object.keys(TRANSFORMS) as Transform[];
