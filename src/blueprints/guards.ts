/** Mixpanel's ingestion limits (MIXPANEL.md): an event that breaks one is rejected with a reason. */
export const INVALID_DISTINCT_IDS = new Set([
  '00000000-0000-0000-0000-000000000000',
  'anon',
  'anonymous',
  'nil',
  'none',
  'null',
  'n/a',
  'na',
  'undefined',
  'unknown',
  '<nil>',
  '0',
  '-1',
  'true',
  'false',
  '[]',
  '{}',
]);

export const MAX_PROPERTIES = 255;
export const MAX_NESTED_KEYS = 255;
export const MAX_ARRAY_ITEMS = 255;
export const MAX_DEPTH = 3;
export const MAX_EVENT_BYTES = 1_000_000;
/** /import refuses events dated before 1971-01-01 (ms since epoch), however often they are sent. */
export const EARLIEST_EVENT_TIME_MS = Date.UTC(1971, 0, 1);

export function invalidIdReason(label: string, id: unknown): string | undefined {
  if (typeof id !== 'string' || id.trim() === '') return `${label} is missing`;
  if (INVALID_DISTINCT_IDS.has(id.trim().toLowerCase())) return `${label} "${id}" is not a valid Mixpanel distinct_id`;
  return undefined;
}

/**
 * One walk that checks Mixpanel's shape limits (when `shape` is set) and adds up an upper bound of the
 * JSON size (every character counted as a 6-byte escape). Only when that bound reaches 1 MB is the
 * exact size measured, so the common small event is never serialised here.
 */
interface Walk {
  bound: number;
  /** The limit broken; its path is assembled while the walk unwinds, so paths cost nothing otherwise. */
  problem?: (path: string) => string;
  path: string[];
}

/** Returns true when a limit is broken (w.problem set, w.path filled from the inside out). */
function walk(value: unknown, depth: number, shape: boolean, w: Walk): boolean {
  if (typeof value === 'string') {
    w.bound += value.length * 6 + 2;
    return false;
  }
  if (value === null || typeof value !== 'object') {
    w.bound += 24;
    return false;
  }
  if (shape && depth > MAX_DEPTH) {
    w.problem = (p) => `property "${p}" is nested deeper than ${MAX_DEPTH} levels`;
    return true;
  }
  if (Array.isArray(value)) {
    if (shape && value.length >= MAX_ARRAY_ITEMS) {
      const n = value.length;
      w.problem = (p) => `property "${p}" has ${n} items (limit ${MAX_ARRAY_ITEMS - 1})`;
      return true;
    }
    w.bound += 2 + value.length;
    for (let i = 0; i < value.length; i++) {
      if (walk(value[i], depth + 1, shape, w)) {
        w.path.push(`[${i}]`);
        return true;
      }
    }
    return false;
  }
  let keys = 0;
  for (const k in value as Record<string, unknown>) {
    keys++;
    w.bound += k.length * 6 + 4;
    if (walk((value as Record<string, unknown>)[k], depth + 1, shape, w)) {
      w.path.push(`.${k}`);
      return true;
    }
  }
  if (shape && keys >= MAX_NESTED_KEYS) {
    w.problem = (p) => `property "${p}" has ${keys} keys (limit ${MAX_NESTED_KEYS - 1})`;
    return true;
  }
  return false;
}

function sizeOver(body: unknown, bound: number): string | undefined {
  if (bound < MAX_EVENT_BYTES) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(body));
  return bytes >= MAX_EVENT_BYTES ? `event is ${bytes} bytes of JSON (limit 1 MB)` : undefined;
}

/** Why Mixpanel would refuse this event (its time, properties shape or size), or undefined when it fits. */
export function eventReason(body: { event?: unknown; properties: Record<string, unknown> }): string | undefined {
  const props = body.properties;
  if (typeof props.time === 'number' && props.time < EARLIEST_EVENT_TIME_MS) return 'timestamp is before 1971-01-01 (Mixpanel refuses older events)';
  let count = 0;
  const w: Walk = { bound: 64 + String(body.event ?? '').length * 6, path: [] };
  for (const k in props) {
    count++;
    w.bound += k.length * 6 + 4;
    if (walk(props[k], 1, true, w)) return w.problem!(k + w.path.reverse().join(''));
  }
  if (count >= MAX_PROPERTIES) return `event has ${count} properties (limit ${MAX_PROPERTIES - 1})`;
  return sizeOver(body, w.bound);
}

/** Why a profile or group update is too big, or undefined. */
export function updateReason(body: Record<string, unknown>): string | undefined {
  const w: Walk = { bound: 0, path: [] };
  walk(body, 0, false, w);
  return sizeOver(body, w.bound);
}
