/** Compiles a dotted source path once into a fast getter. `a.b[].c` collects `c` of each element of `a.b`. */
export type Getter = (root: unknown) => unknown;

function walk(value: unknown, keys: string[]): unknown {
  let v = value;
  for (const k of keys) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

export function compilePath(path: string): Getter {
  const arrayAt = path.indexOf('[]');
  if (arrayAt === -1) {
    const keys = path.split('.');
    if (keys.length === 1) return (root) => (root as Record<string, unknown> | undefined)?.[keys[0]];
    if (keys.length === 2) {
      const [a, b] = keys;
      return (root) => {
        const first = (root as Record<string, unknown> | undefined)?.[a];
        return first !== null && typeof first === 'object' ? (first as Record<string, unknown>)[b] : undefined;
      };
    }
    return (root) => walk(root, keys);
  }
  const head = path.slice(0, arrayAt).split('.');
  const rest = path.slice(arrayAt + 2).replace(/^\./, '');
  const tail = rest ? compilePath(rest) : (v: unknown) => v;
  return (root) => {
    const arr = walk(root, head);
    if (!Array.isArray(arr)) return undefined;
    const out: unknown[] = [];
    for (const el of arr) {
      const v = tail(el);
      if (v !== undefined && v !== null) out.push(v);
    }
    return out;
  };
}

export function isPresent(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

/** A JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The string when it holds more than whitespace (SDKs send "" and " " for "none"), else undefined. */
export function nonBlank(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}
