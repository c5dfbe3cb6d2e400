import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import { BufferLeases, bodyBuffers } from '../shared/buffer-pool.js';
import { ByteWriter } from '../shared/byte-writer.js';
import { Spans } from '../shared/json-spans.js';
import type { EventList, EventToQueue, PendingItem } from './delivery-job.js';

/** What a job carries besides its bookkeeping: the events and, on a retry, the items still to send. */
export interface JobBody {
  events: EventToQueue[];
  pending?: PendingItem[];
}

const NEWLINE = 0x0a;
const SPACE = 0x20;

/**
 * A job's events as newline-delimited JSON: a first line `{"events":N,"pending":M}`, then N events,
 * then M pending items. Each line is (de)serialised on its own, so a job of a thousand events is never
 * one megabyte-long string on either side of the queue. An event given as its JSON bytes is written
 * as it is, its newlines as spaces: in valid JSON a raw newline can only be whitespace.
 */
export function encodeJobBody(body: JobBody): { bytes: Buffer; release: () => void } {
  // Written in a pooled buffer: `release` hands it back once nothing reads `bytes` any more.
  const leases = new BufferLeases(bodyBuffers);
  return { bytes: writeJobBody(new ByteWriter(leases.take()), body), release: () => leases.releaseAll() };
}

function writeJobBody(out: ByteWriter, body: JobBody): Buffer {
  out.text(JSON.stringify({ events: body.events.length, pending: body.pending?.length ?? 0 }));
  for (const e of body.events) {
    out.byte(NEWLINE);
    if (Buffer.isBuffer(e)) appendOnOneLine(out, e);
    else out.text(JSON.stringify(e));
  }
  for (const p of body.pending ?? []) {
    out.byte(NEWLINE);
    out.text(JSON.stringify(p));
  }
  return out.bytes();
}

function appendOnOneLine(out: ByteWriter, json: Buffer): void {
  const start = out.length;
  out.append(json);
  const written = out.bytes();
  for (let i = written.indexOf(NEWLINE, start); i !== -1; i = written.indexOf(NEWLINE, i + 1)) written[i] = SPACE;
}

/** A job body as read back: the events stay bytes until each is asked for. */
export interface FetchedJobBody {
  events: EventList;
  pending?: PendingItem[];
}

/** Events as lines of one buffer: `length` lines from line `first`. */
class LineEvents implements EventList {
  constructor(
    private readonly lines: Spans,
    private readonly first: number,
    readonly length: number,
  ) {}

  at(index: number): CanonicalEvent {
    return this.lines.parse(this.first + index) as CanonicalEvent;
  }

  stored(index: number): Buffer {
    return this.lines.slice(this.first + index);
  }
}

export function decodeJobBody(bytes: Buffer): FetchedJobBody {
  const offsets: number[] = [];
  for (let start = 0; start <= bytes.length; ) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end === -1) end = bytes.length;
    offsets.push(start, end);
    start = end + 1;
  }
  const lines = new Spans(bytes, offsets);
  const head = lines.parse(0) as { events: number; pending: number };
  const events = new LineEvents(lines, 1, head.events);
  if (head.pending === 0) return { events };
  return { events, pending: Array.from({ length: head.pending }, (_, i) => lines.parse(1 + head.events + i) as PendingItem) };
}
