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

export function invalidIdReason(label: string, id: unknown): string | undefined {
  if (typeof id !== 'string' || id.trim() === '') return `${label} is missing`;
  if (INVALID_DISTINCT_IDS.has(id.trim().toLowerCase())) return `${label} "${id}" is not a valid Mixpanel distinct_id`;
  return undefined;
}

function shapeReason(value: unknown, path: string, depth: number): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (depth > MAX_DEPTH) return `property "${path}" is nested deeper than ${MAX_DEPTH} levels`;
  if (Array.isArray(value)) {
    if (value.length >= MAX_ARRAY_ITEMS) return `property "${path}" has ${value.length} items (limit ${MAX_ARRAY_ITEMS - 1})`;
    for (let i = 0; i < value.length; i++) {
      const r = shapeReason(value[i], `${path}[${i}]`, depth + 1);
      if (r) return r;
    }
    return undefined;
  }
  const keys = Object.keys(value);
  if (keys.length >= MAX_NESTED_KEYS) return `property "${path}" has ${keys.length} keys (limit ${MAX_NESTED_KEYS - 1})`;
  for (const k of keys) {
    const r = shapeReason((value as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
    if (r) return r;
  }
  return undefined;
}

/** Why Mixpanel would refuse these event properties, or undefined when they fit. */
export function propertiesReason(properties: Record<string, unknown>): string | undefined {
  const keys = Object.keys(properties);
  if (keys.length >= MAX_PROPERTIES) return `event has ${keys.length} properties (limit ${MAX_PROPERTIES - 1})`;
  for (const k of keys) {
    const r = shapeReason(properties[k], k, 1);
    if (r) return r;
  }
  return undefined;
}

export function sizeReason(body: unknown): string | undefined {
  const bytes = Buffer.byteLength(JSON.stringify(body));
  return bytes >= MAX_EVENT_BYTES ? `event is ${bytes} bytes of JSON (limit 1 MB)` : undefined;
}
