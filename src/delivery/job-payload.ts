import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import { ByteWriter } from '../shared/byte-writer.js';
import type { PendingItem } from './delivery-job.js';

/** What a job carries besides its bookkeeping: the events and, on a retry, the items still to send. */
export interface JobBody {
  events: CanonicalEvent[];
  pending?: PendingItem[];
}

const NEWLINE = 0x0a;

/**
 * A job's events as newline-delimited JSON: a first line `{"events":N,"pending":M}`, then N events,
 * then M pending items. Each line is (de)serialised on its own, so a job of a thousand events is never
 * one megabyte-long string on either side of the queue.
 */
export function encodeJobBody(body: JobBody): Buffer {
  const out = new ByteWriter(256 * 1024);
  out.text(JSON.stringify({ events: body.events.length, pending: body.pending?.length ?? 0 }));
  for (const e of body.events) {
    out.byte(NEWLINE);
    out.text(JSON.stringify(e));
  }
  for (const p of body.pending ?? []) {
    out.byte(NEWLINE);
    out.text(JSON.stringify(p));
  }
  return out.bytes();
}

export function decodeJobBody(bytes: Buffer): JobBody {
  let start = 0;
  const next = (): unknown => {
    let end = bytes.indexOf(NEWLINE, start);
    if (end === -1) end = bytes.length;
    const value = JSON.parse(bytes.toString('utf8', start, end)) as unknown;
    start = end + 1;
    return value;
  };
  const head = next() as { events: number; pending: number };
  const events = Array.from({ length: head.events }, () => next() as CanonicalEvent);
  if (head.pending === 0) return { events };
  return { events, pending: Array.from({ length: head.pending }, () => next() as PendingItem) };
}
