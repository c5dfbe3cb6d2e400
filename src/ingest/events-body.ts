import type { NextFunction, Request, Response } from 'express';
import { arraySpans, skipSpace, type Spans } from '../shared/json-spans.js';

const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const EVENTS_KEY = Buffer.from('"events"');

/** Where each element of `{"events":[…]}` lies in the bytes, or undefined when the body has any other layout. */
export function eventSpans(b: Buffer): Spans | undefined {
  let i = skipSpace(b, 0);
  if (b[i] !== OPEN_OBJECT) return undefined;
  i = skipSpace(b, i + 1);
  if (!b.subarray(i, i + EVENTS_KEY.length).equals(EVENTS_KEY)) return undefined;
  i = skipSpace(b, i + EVENTS_KEY.length);
  if (b[i] !== COLON) return undefined;
  const array = arraySpans(b, skipSpace(b, i + 1));
  if (!array) return undefined;
  i = skipSpace(b, array.end);
  if (b[i] !== CLOSE_OBJECT) return undefined;
  return skipSpace(b, i + 1) === b.length ? array.items : undefined;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw Object.assign(new Error(`The request body is not valid JSON: ${(err as Error).message}`), { status: 400, type: 'entity.parse.failed' });
  }
}

/** The body as text in its declared charset (UTF only, like express.json). */
function decode(bytes: Buffer, charset: string): string {
  if (charset.startsWith('utf-')) {
    try {
      return new TextDecoder(charset).decode(bytes);
    } catch {
      // an unknown UTF name: unsupported like any other
    }
  }
  throw Object.assign(new Error(`unsupported charset "${charset}"`), { status: 415 });
}

/**
 * Parses the raw JSON body of POST /v1/events (after express.raw). The usual UTF-8 `{"events":[…]}`
 * is only cut into its events: `req.receivedEvents` holds each event's bytes, and the ingest service
 * parses, checks and lets go of each in turn (an event accepted
 * as sent is queued from those bytes). No megabyte-long string is built, and a thousand parsed
 * events never sit in memory together. Any other layout is parsed as a whole; other UTF charsets are
 * decoded first, like express.json.
 */
/**
 * The events of a POST /v1/events body as ingest receives them: each event's JSON bytes as they arrived
 * (the usual UTF-8 `{"events":[…]}`, cut without parsing), or the events parsed (any other layout).
 */
export type ReceivedEvents = { kind: 'bytes'; events: Buffer[] } | { kind: 'parsed'; events: unknown[] };

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by eventsBody for POST /v1/events. */
    receivedEvents?: ReceivedEvents;
  }
}

export function eventsBody(req: Request, _res: Response, next: NextFunction): void {
  if (!Buffer.isBuffer(req.body)) return next();
  req.bodyRead?.(req.body.length);
  try {
    let bytes: Buffer = req.body;
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    const utf8 = !charset || charset === 'utf-8' || charset === 'utf8';
    if (utf8 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    const spans = utf8 && bytes.length > 0 ? eventSpans(bytes) : undefined;
    if (spans) {
      const events = Array.from({ length: spans.count }, (_, k) => spans.slice(k));
      req.receivedEvents = { kind: 'bytes', events };
      // What the contract checks of the body (an array of 1 to 1000 events) without the events themselves,
      // which ingest checks one by one.
      req.body = { events: new Array<null>(events.length).fill(null) };
    } else {
      const text = utf8 ? bytes.toString('utf8') : decode(bytes, charset);
      req.body = text.trim() === '' ? {} : parse(text);
      // JSON `null`, a number or a string is a body too: the contract refuses it (400), nothing here reads it.
      const events = req.body !== null && typeof req.body === 'object' ? (req.body as { events?: unknown }).events : undefined;
      if (Array.isArray(events)) req.receivedEvents = { kind: 'parsed', events };
    }
    next();
  } catch (err) {
    next(err);
  }
}
