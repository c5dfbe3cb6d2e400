import type { MixpanelEndpoint, MixpanelItem } from '../../blueprints/engine.js';

export type MixpanelRegion = 'us' | 'eu' | 'in';

/** Per-request item limits (MIXPANEL.md): 2000 events or profile updates, 200 group updates. */
export const MAX_ITEMS: Record<MixpanelEndpoint, number> = { '/import': 2000, '/engage': 2000, '/groups': 200 };

/** Keep each body ≤ 2 MB uncompressed: the documented 413 names 2097152 bytes. */
export const MAX_REQUEST_BYTES = 2 * 1024 * 1024;

/** `/import?strict=1` reports invalid events one by one; `/engage` uses `$ip` from the body, never ours. */
export const QUERY: Record<MixpanelEndpoint, string> = {
  '/import': 'strict=1',
  '/engage': 'verbose=1&ip=0',
  '/groups': 'verbose=1',
};

export function requestUrl(baseUrl: string, endpoint: MixpanelEndpoint): string {
  return `${baseUrl.replace(/\/+$/, '')}${endpoint}?${QUERY[endpoint]}`;
}

export interface PlannedBatch<T> {
  endpoint: MixpanelEndpoint;
  entries: T[];
  /** The JSON array body, already serialised. */
  body: string;
}

/**
 * Groups items by endpoint and cuts them into request bodies within the item and byte limits, keeping
 * their order. `itemOf` picks the Mixpanel item of each entry (an entry can carry delivery bookkeeping).
 */
export function planBatches<T>(entries: T[], itemOf: (entry: T) => MixpanelItem, maxBytes = MAX_REQUEST_BYTES): PlannedBatch<T>[] {
  const open = new Map<MixpanelEndpoint, { entries: T[]; parts: string[]; bytes: number }>();
  const done: PlannedBatch<T>[] = [];
  const close = (endpoint: MixpanelEndpoint) => {
    const b = open.get(endpoint);
    if (b && b.entries.length > 0) done.push({ endpoint, entries: b.entries, body: `[${b.parts.join(',')}]` });
    open.delete(endpoint);
  };
  for (const entry of entries) {
    const item = itemOf(entry);
    const json = JSON.stringify(item.body);
    const size = Buffer.byteLength(json) + 1;
    let b = open.get(item.endpoint);
    if (b && (b.entries.length >= MAX_ITEMS[item.endpoint] || b.bytes + size > maxBytes)) {
      close(item.endpoint);
      b = undefined;
    }
    if (!b) {
      b = { entries: [], parts: [], bytes: 2 };
      open.set(item.endpoint, b);
    }
    b.entries.push(entry);
    b.parts.push(json);
    b.bytes += size;
  }
  for (const endpoint of [...open.keys()]) close(endpoint);
  return done;
}
