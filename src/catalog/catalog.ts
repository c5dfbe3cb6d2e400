import type { CatalogEntry } from './catalog-entry.js';
import { mixpanel } from './mixpanel/definition.js';

/** Every vendor this service can install. */
export const CATALOG: readonly CatalogEntry[] = [mixpanel];

export function findCatalogEntry(key: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.key === key);
}
