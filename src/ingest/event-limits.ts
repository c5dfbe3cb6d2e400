import { MAX_ARRAY_ITEMS, MAX_DEPTH, MAX_EVENT_BYTES, MAX_NESTED_KEYS, MAX_PROPERTIES } from '../blueprints/guards.js';

/** Nesting allowed outside properties and traits (context, integrations, …), counted from the event. */
const MAX_OTHER_DEPTH = 8;
/** Sections whose keys become Mixpanel properties: Mixpanel's limits apply below each key. */
const PROPERTY_SECTIONS = new Set(['properties', 'traits']);

interface Item {
  value: unknown;
  path: string;
  /** Nesting below the property this value belongs to (1 = the property's value), or from the root elsewhere. */
  depth: number;
  inProperty: boolean;
}

function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'holds a NUL character';
  if (!s.isWellFormed()) return 'holds invalid Unicode (an unpaired surrogate)';
  return undefined;
}

/**
 * Why Mixpanel (or PostgreSQL, which keeps queued events and dead letters) would refuse this event,
 * or undefined: nesting deeper than 3 levels below a property (8 elsewhere), ≥ 255 properties, keys
 * or array items, numbers JSON cannot carry (1e400 parses as Infinity), NUL characters and unpaired
 * surrogates in text, `__proto__` keys, and events of 1 MB or more. One iterative walk, so no
 * nesting depth can overflow the stack; it stops at the first problem. `jsonBytes` is the event's
 * size as received, when known.
 */
export function eventLimitsReason(event: unknown, jsonBytes?: number): string | undefined {
  if (jsonBytes !== undefined && jsonBytes >= MAX_EVENT_BYTES) return `event is ${jsonBytes} bytes of JSON (limit 1 MB)`;
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return undefined; // the schema says why
  let bytes = 0;
  const stack: Item[] = [{ value: event, path: '', depth: 0, inProperty: false }];
  while (stack.length > 0) {
    const { value, path, depth, inProperty } = stack.pop()!;
    const at = path || 'event';
    if (typeof value === 'string') {
      bytes += value.length + 2;
      const problem = textProblem(value);
      if (problem) return `${at} ${problem}`;
      continue;
    }
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return `${at} is a number JSON cannot carry`;
      bytes += 8;
      continue;
    }
    if (value === null || typeof value !== 'object') {
      bytes += 5;
      continue;
    }
    if (inProperty ? depth > MAX_DEPTH : depth > MAX_OTHER_DEPTH) {
      return `${at} is nested deeper than ${inProperty ? `${MAX_DEPTH} levels (Mixpanel's limit)` : `${MAX_OTHER_DEPTH} levels`}`;
    }
    if (Array.isArray(value)) {
      if (value.length >= MAX_ARRAY_ITEMS) return `${at} has ${value.length} items (Mixpanel's limit is ${MAX_ARRAY_ITEMS - 1})`;
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: `${at}[${i}]`, depth: depth + 1, inProperty });
      continue;
    }
    const keys = Object.keys(value);
    const section = depth === 1 && !inProperty && PROPERTY_SECTIONS.has(path);
    const limit = section ? MAX_PROPERTIES : MAX_NESTED_KEYS;
    if (keys.length >= limit) return `${at} has ${keys.length} ${section ? 'properties' : 'keys'} (Mixpanel's limit is ${limit - 1})`;
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i];
      if (k === '__proto__') return `${at} has a key named __proto__`;
      const problem = textProblem(k);
      if (problem) return `a key of ${at} ${problem}`;
      bytes += k.length + 4;
      const child = path ? `${path}.${k}` : k;
      // Below properties.x / traits.x, Mixpanel counts from the property's value (depth 1).
      if (section) stack.push({ value: (value as Record<string, unknown>)[k], path: child, depth: 1, inProperty: true });
      else stack.push({ value: (value as Record<string, unknown>)[k], path: child, depth: depth + 1, inProperty });
    }
  }
  if (jsonBytes === undefined && bytes >= MAX_EVENT_BYTES) return `event is about ${bytes} bytes of JSON (limit 1 MB)`;
  return undefined;
}
