import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/**
 * `mkdir -p`: creates `dir` and its missing parents, one at a time from the nearest that exists, and
 * throws the first refusal (its `code` says which). Node's own `mkdirSync(dir, { recursive: true })`
 * spins at 100% CPU forever, deaf to signals, on a path under /proc: procfs answers ENOENT for a child
 * it cannot hold, which Node reads as a missing parent, and creating that parent says it exists.
 */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
