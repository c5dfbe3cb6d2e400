import { EARLIEST_EVENT_TIME_MS, MAX_ARRAY_ITEMS, MAX_DEPTH, MAX_EVENT_BYTES, MAX_NESTED_KEYS, MAX_PROPERTIES } from '../blueprints/guards.js';
import { textProblem } from '../shared/storable-text.js';

const ESCAPE = Buffer.from('\\u');

/** Nesting allowed outside properties and traits (context, integrations, …), counted from the event. */
const MAX_OTHER_DEPTH = 8;

/** The walk's findings: the problem (its path assembled while the walk unwinds) and a size estimate. */
interface Walk {
  bytes: number;
  /** Whether strings and keys need looking at: not when the JSON they came from holds no \u escape. */
  text: boolean;
  problem?: (at: string) => string;
  path: string[];
}


/**
 * Checks one value; true when a limit is broken (w.problem set, w.path filled from the inside out).
 * The recursion stops at the nesting limit (`max`), so no input can make it overflow the stack.
 */
function walk(value: unknown, depth: number, max: number, w: Walk): boolean {
  if (typeof value === 'string') {
    w.bytes += value.length + 2;
    if (!w.text) return false;
    const problem = textProblem(value);
    if (problem) w.problem = (at) => `${at} ${problem}`;
    return problem !== undefined;
  }
  if (typeof value === 'number') {
    w.bytes += 8;
    if (Number.isFinite(value)) return false;
    w.problem = (at) => `${at} is a number JSON cannot carry`;
    return true;
  }
  if (value === null || typeof value !== 'object') {
    w.bytes += 5;
    return false;
  }
  if (depth > max) {
    w.problem = (at) => `${at} is nested deeper than ${max === MAX_DEPTH ? `${MAX_DEPTH} levels (Mixpanel's limit)` : `${max} levels`}`;
    return true;
  }
  if (Array.isArray(value)) {
    if (value.length >= MAX_ARRAY_ITEMS) {
      const n = value.length;
      w.problem = (at) => `${at} has ${n} items (Mixpanel's limit is ${MAX_ARRAY_ITEMS - 1})`;
      return true;
    }
    for (let i = 0; i < value.length; i++) {
      if (walk(value[i], depth + 1, max, w)) {
        w.path.push(`[${i}]`);
        return true;
      }
    }
    return false;
  }
  return walkKeys(value as Record<string, unknown>, depth, max, MAX_NESTED_KEYS, 'keys', w);
}

function walkKeys(obj: Record<string, unknown>, depth: number, max: number, limit: number, what: string, w: Walk, childDepth = depth + 1): boolean {
  let keys = 0;
  for (const k in obj) {
    if (++keys >= limit) {
      const n = Object.keys(obj).length;
      w.problem = (at) => `${at} has ${n} ${what} (Mixpanel's limit is ${limit - 1})`;
      return true;
    }
    w.bytes += k.length + 4;
    if (k === '__proto__') {
      w.problem = (at) => `${at} has a key named __proto__`;
      return true;
    }
    const problem = w.text ? textProblem(k) : undefined;
    if (problem) {
      w.problem = (at) => `a key of ${at} ${problem}`;
      return true;
    }
    if (walk(obj[k], childDepth, max, w)) {
      w.path.push(`.${k}`);
      return true;
    }
  }
  return false;
}

/**
 * Why Mixpanel (or PostgreSQL, which keeps queued events and dead letters) would refuse this event,
 * or undefined: nesting deeper than 3 levels below a property (8 elsewhere), ≥ 255 properties, keys
 * or array items, numbers JSON cannot carry (1e400 parses as Infinity), NUL characters and unpaired
 * surrogates in text, `__proto__` keys, and events of 1 MB or more. The walk stops at the first
 * problem and at the nesting limits, so no input can make it overflow the stack. `received` is the
 * event's JSON as it arrived, when known: its size is exact, and when it holds no `\u` escape no
 * string can hold a NUL or an unpaired surrogate (JSON carries those only as escapes, and UTF-8 cannot
 * encode a lone surrogate), so the text checks are skipped.
 */
export function eventLimitsReason(event: unknown, received?: Buffer): string | undefined {
  const jsonBytes = received?.length;
  if (jsonBytes !== undefined && jsonBytes >= MAX_EVENT_BYTES) return `event is ${jsonBytes} bytes of JSON (limit 1 MB)`;
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return undefined; // the schema says why
  const w: Walk = { bytes: 0, path: [], text: received === undefined || received.includes(ESCAPE) };
  const root = event as Record<string, unknown>;
  for (const k in root) {
    if (k === '__proto__') return 'event has a key named __proto__';
    const v = root[k];
    // Below properties.x / traits.x, Mixpanel counts from the property's value (depth 1).
    const broken =
      (k === 'properties' || k === 'traits') && v !== null && typeof v === 'object' && !Array.isArray(v)
        ? walkKeys(v as Record<string, unknown>, 0, MAX_DEPTH, MAX_PROPERTIES, 'properties', w, 1)
        : walk(v, 1, MAX_OTHER_DEPTH, w);
    if (broken) return w.problem!(k + w.path.reverse().join(''));
  }
  if (jsonBytes === undefined && w.bytes >= MAX_EVENT_BYTES) return `event is about ${w.bytes} bytes of JSON (limit 1 MB)`;
  return undefined;
}

/** Mixpanel refuses events dated more than this ahead of its clock (MIXPANEL.md). */
const MAX_AHEAD_MS = 3600_000;

/** `YYYY-MM-DDTHH:MM:SS` of now + MAX_AHEAD_MS, made once a second (see eventTimeReason). */
let aheadLimit = { second: -1, text: '' };

/**
 * Why Mixpanel would refuse the event's time: before 1971-01-01 (whenever it is sent), or more than an
 * hour ahead of this server's clock (as it would be if sent now; ingest sends at once); undefined when
 * it takes it. `timestamp` is the event's time as ingest fixed it (see completeEvent, which corrects a
 * client's clock by its `sentAt`), ISO 8601 by the schema.
 */
export function eventTimeReason(timestamp: string, now = Date.now()): string | undefined {
  if (timestamp < '1972') {
    // RFC 3339 years have four digits: one from 1972 on is late enough whatever its offset.
    return Date.parse(timestamp) < EARLIEST_EVENT_TIME_MS ? `timestamp ${timestamp} is before 1971-01-01 (Mixpanel refuses older events)` : undefined;
  }
  // The usual UTC time ("…Z") earlier than the limit's second compares as text; others are parsed.
  const second = Math.floor(now / 1000);
  if (aheadLimit.second !== second) aheadLimit = { second, text: new Date(second * 1000 + MAX_AHEAD_MS).toISOString().slice(0, 19) };
  if (timestamp.endsWith('Z') && timestamp.length >= 20 && timestamp.slice(0, 19) < aheadLimit.text) return undefined;
  return Date.parse(timestamp) > now + MAX_AHEAD_MS
    ? `timestamp ${timestamp} is more than 1 hour ahead of this server's clock (Mixpanel refuses events dated over 1 h in the future; a client whose clock is off can send sentAt)`
    : undefined;
}
