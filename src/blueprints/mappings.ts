import type { Mapping } from './blueprint.js';
import { compilePath, isPresent, isRecord, type Getter } from './paths.js';
import { TRANSFORMS, type TransformFn } from './transforms.js';

/** Writes the mapped properties of one root object (an event, or an event with its `item`) into `out`. */
export type CompiledMappings = (root: unknown, out: Record<string, unknown>) => void;

/** Evaluates one mapping to a value (used where the value is not written under a target). */
export type ValueFn = (root: unknown) => unknown;

function sourcesOf(m: Mapping): string[] {
  return m.source === undefined ? [] : Array.isArray(m.source) ? m.source : [m.source];
}

export function compileValue(m: Mapping): ValueFn {
  const getters: Getter[] = sourcesOf(m).map(compilePath);
  const transforms: TransformFn[] = (m.transform === undefined ? [] : Array.isArray(m.transform) ? m.transform : [m.transform]).map(
    (name) => TRANSFORMS[name],
  );
  const { format, value_map: valueMap } = m;
  const hasDefault = m.default !== undefined;
  const constant = m.value;
  if (getters.length === 1 && transforms.length === 0 && !valueMap && !hasDefault && constant === undefined) {
    const only = getters[0];
    return (root) => {
      const v = only(root);
      return isPresent(v) ? v : undefined;
    };
  }
  return (root) => {
    let v: unknown = constant;
    for (let i = 0; v === undefined && i < getters.length; i++) {
      const got = getters[i](root);
      if (isPresent(got)) v = got;
    }
    for (let i = 0; v !== undefined && i < transforms.length; i++) v = transforms[i](v, format);
    if (valueMap && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
      const key = String(v);
      if (Object.prototype.hasOwnProperty.call(valueMap, key)) v = valueMap[key];
    }
    if (!isPresent(v) && hasDefault) v = m.default;
    return v;
  };
}

/** Top-level keys under `prefix.` that scalar (non-array) sources of a mapping list read. */
export function keysReadUnder(mappings: Mapping[], prefix: string): Set<string> {
  const keys = new Set<string>();
  for (const m of mappings) {
    if (m.spread) continue;
    for (const s of sourcesOf(m)) {
      if (s.startsWith(prefix + '.') && !s.includes('[]')) keys.add(s.slice(prefix.length + 1).split('.')[0]);
    }
  }
  return keys;
}

function compileSpread(m: Mapping, siblings: Mapping[]): CompiledMappings {
  const value = guarded(m, compileValue(m));
  const skip = new Set([...(m.exclude ?? []), ...sourcesOf(m).flatMap((s) => [...keysReadUnder(siblings, s)])]);
  return (root, out) => {
    const obj = value(root);
    if (!isRecord(obj)) return;
    for (const key in obj) {
      if (skip.has(key)) continue;
      const v = obj[key];
      if (v !== undefined) out[key] = v;
    }
  };
}

/** A `when` condition holds: the value is true, or present and not false. */
function holds(v: unknown): boolean {
  return isPresent(v) && v !== false && v !== 'false';
}

/** The mapping's value, or undefined when its `when` condition does not hold. */
function guarded(m: Mapping, value: ValueFn): ValueFn {
  if (m.when === undefined) return value;
  const condition = compilePath(m.when);
  return (root) => (holds(condition(root)) ? value(root) : undefined);
}

interface Targeted {
  target: string;
  value: ValueFn;
}

/**
 * Where a mapping reads one nested path (`context.app.version`) and nothing else, the parent object and
 * the key in it; undefined for any other mapping (lists of sources, constants, defaults, conditions).
 */
function parentAndKey(m: Mapping): { parent: string; key: string } | undefined {
  const sources = sourcesOf(m);
  if (sources.length !== 1 || m.value !== undefined || m.default !== undefined || m.when !== undefined) return undefined;
  const path = sources[0];
  const dot = path.lastIndexOf('.');
  if (dot === -1 || path.includes('[]')) return undefined;
  return { parent: path.slice(0, dot), key: path.slice(dot + 1) };
}

/**
 * Compiles a mapping list once; spreads run first, so explicit targets win over copied keys. Mappings
 * that read keys of the same parent object (the many `context.app.*`, `context.device.*`, … ones) are
 * evaluated together: the parent is read once, and when an event has none (a web event has no
 * `context.app`), the whole group costs one lookup. Only mappings whose target no other mapping of
 * the list writes are grouped, so the order in which targets are written never matters.
 */
export function compileMappings(mappings: Mapping[]): CompiledMappings {
  const spreads = mappings.filter((m) => m.spread).map((m) => compileSpread(m, mappings));
  const targetedMappings = mappings.filter((m) => !m.spread && m.target !== undefined);
  const writers = new Map<string, number>();
  for (const m of targetedMappings) writers.set(m.target!, (writers.get(m.target!) ?? 0) + 1);
  const byParent = new Map<string, { m: Mapping; key: string }[]>();
  for (const m of targetedMappings) {
    const at = writers.get(m.target!) === 1 ? parentAndKey(m) : undefined;
    if (at) byParent.set(at.parent, [...(byParent.get(at.parent) ?? []), { m, key: at.key }]);
  }
  const groups: { parent: Getter; members: Targeted[] }[] = [];
  const grouped = new Set<Mapping>();
  for (const [parent, members] of byParent) {
    if (members.length < 2) continue;
    groups.push({ parent: compilePath(parent), members: members.map(({ m, key }) => ({ target: m.target!, value: compileValue({ ...m, source: key }) })) });
    for (const { m } of members) grouped.add(m);
  }
  const singles: Targeted[] = targetedMappings
    .filter((m) => !grouped.has(m))
    .map((m) => ({ target: m.target as string, value: guarded(m, compileValue(m)) }));
  return (root, out) => {
    for (const s of spreads) s(root, out);
    for (const t of singles) {
      const v = t.value(root);
      if (isPresent(v)) out[t.target] = v;
    }
    for (const g of groups) {
      const parent = g.parent(root);
      if (parent === null || typeof parent !== 'object') continue;
      for (const t of g.members) {
        const v = t.value(parent);
        if (isPresent(v)) out[t.target] = v;
      }
    }
  };
}
