import type { MixpanelEndpoint, MixpanelItem } from './wire.js';
import { BufferLeases, bodyBuffers } from '../../shared/buffer-pool.js';
import { ByteWriter } from '../../shared/byte-writer.js';
import { Spans } from '../../shared/json-spans.js';

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

/** The request's URL; `projectId` (a service account's project) goes with /import, the one request it authenticates. */
export function requestUrl(baseUrl: string, endpoint: MixpanelEndpoint, projectId?: string): string {
  const project = endpoint === '/import' && projectId ? `&project_id=${encodeURIComponent(projectId)}` : '';
  return `${baseUrl.replace(/\/+$/, '')}${endpoint}?${QUERY[endpoint]}${project}`;
}

export interface PlannedBatch<T> {
  endpoint: MixpanelEndpoint;
  entries: T[];
  /** The JSON array body, already serialised as UTF-8. */
  body: Buffer;
  /** Where each entry's item lies in `body`, by position. */
  items: Spans;
}

/** A request body being filled: items are written straight into bytes as they come. */
class OpenBody<T> {
  readonly entries: T[] = [];
  private readonly offsets: number[] = [];
  // Room for the largest body at once (growing would copy it); only a lone oversized item grows it.
  private readonly out: ByteWriter;

  constructor(
    private readonly maxBytes: number,
    room: Buffer,
  ) {
    this.out = new ByteWriter(room);
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
    const start = this.out.length;
    this.out.text(json);
    this.offsets.push(start, this.out.length);
    this.entries.push(entry);
    return true;
  }

  /** The finished body, and where each item lies in it. */
  close(): { body: Buffer; items: Spans } {
    this.out.byte(0x5d); // ]
    const body = this.out.bytes();
    return { body, items: new Spans(body, this.offsets) };
  }
}

/**
 * Groups items by endpoint and cuts them into request bodies within the item and byte limits, keeping
 * their order. Each item is serialised as it is added, so the caller need not keep it (or the event
 * it came from) alive: a thousand mapped events never pile up waiting to be planned.
 */
export class BatchPlanner<T> {
  private readonly open = new Map<MixpanelEndpoint, OpenBody<T>>();
  private readonly done: PlannedBatch<T>[] = [];
  /** The bodies' memory, from the pool, owned until release(). */
  private readonly rooms = new BufferLeases(bodyBuffers);

  constructor(private readonly maxBytes = MAX_REQUEST_BYTES) {}

  add(entry: T, item: MixpanelItem): void {
    this.addJson(entry, item.endpoint, JSON.stringify(item.body));
  }

  /** Adds an item already serialised (so a caller can serialise all of an event's items before adding any). */
  addJson(entry: T, endpoint: MixpanelEndpoint, json: string): void {
    const b = this.open.get(endpoint);
    if (b && b.entries.length < MAX_ITEMS[endpoint] && b.tryAdd(entry, json)) return;
    this.close(endpoint);
    const fresh = new OpenBody<T>(this.maxBytes, this.rooms.take(this.maxBytes));
    this.open.set(endpoint, fresh);
    fresh.tryAdd(entry, json);
  }

  finish(): PlannedBatch<T>[] {
    for (const endpoint of [...this.open.keys()]) this.close(endpoint);
    return this.done;
  }

  /** Hands the bodies' memory back for later batches; only once nothing reads them any more. */
  release(): void {
    this.rooms.releaseAll();
  }

  private close(endpoint: MixpanelEndpoint): void {
    const b = this.open.get(endpoint);
    if (b && b.entries.length > 0) this.done.push({ endpoint, entries: b.entries, ...b.close() });
    this.open.delete(endpoint);
  }
}

export function planBatches<T>(entries: T[], itemOf: (entry: T) => MixpanelItem, maxBytes = MAX_REQUEST_BYTES): PlannedBatch<T>[] {
  const planner = new BatchPlanner<T>(maxBytes);
  for (const entry of entries) planner.add(entry, itemOf(entry));
  return planner.finish();
}

/** The bytes of some of a batch's items (by position) as a JSON array body of their own. */
export function subBody(batch: PlannedBatch<unknown>, positions: number[]): Buffer {
  const out = new ByteWriter();
  out.byte(0x5b);
  positions.forEach((k, i) => {
    if (i > 0) out.byte(0x2c);
    out.append(batch.items.slice(k));
  });
  out.byte(0x5d);
  return out.bytes();
}
