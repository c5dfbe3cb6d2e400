import type { MixpanelEndpoint, MixpanelItem } from '../../blueprints/engine.js';
import { ByteWriter } from '../../shared/byte-writer.js';

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
  /** The JSON array body, already serialised as UTF-8. */
  body: Buffer;
}

/** A request body being filled: items are written straight into bytes as they come. */
class OpenBody<T> {
  readonly entries: T[] = [];
  private readonly out = new ByteWriter();

  constructor(private readonly maxBytes: number) {
    this.out.byte(0x5b); // [
  }

  /** Appends the item unless the body would then exceed its byte limit (a lone item always fits). */
  tryAdd(entry: T, json: string): boolean {
    if (this.entries.length > 0) {
      const room = this.maxBytes - this.out.length - 2; // its "," and the closing "]"
      // A UTF-16 unit is at most 3 bytes of UTF-8: the exact size is needed only near the limit.
      if (json.length * 3 > room && Buffer.byteLength(json) > room) return false;
      this.out.byte(0x2c); // ,
    }
    this.out.text(json);
    this.entries.push(entry);
    return true;
  }

  close(): Buffer {
    this.out.byte(0x5d); // ]
    return this.out.bytes();
  }
}

/**
 * Groups items by endpoint and cuts them into request bodies within the item and byte limits, keeping
 * their order. `itemOf` picks the Mixpanel item of each entry (an entry can carry delivery bookkeeping).
 */
export function planBatches<T>(entries: T[], itemOf: (entry: T) => MixpanelItem, maxBytes = MAX_REQUEST_BYTES): PlannedBatch<T>[] {
  const open = new Map<MixpanelEndpoint, OpenBody<T>>();
  const done: PlannedBatch<T>[] = [];
  const close = (endpoint: MixpanelEndpoint) => {
    const b = open.get(endpoint);
    if (b && b.entries.length > 0) done.push({ endpoint, entries: b.entries, body: b.close() });
    open.delete(endpoint);
  };
  for (const entry of entries) {
    const item = itemOf(entry);
    const json = JSON.stringify(item.body);
    let b = open.get(item.endpoint);
    if (b && b.entries.length < MAX_ITEMS[item.endpoint] && b.tryAdd(entry, json)) continue;
    close(item.endpoint);
    b = new OpenBody<T>(maxBytes);
    open.set(item.endpoint, b);
    b.tryAdd(entry, json);
  }
  for (const endpoint of [...open.keys()]) close(endpoint);
  return done;
}
