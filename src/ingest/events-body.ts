import type { NextFunction, Request, Response } from 'express';

declare module 'express-serve-static-core' {
  interface Request {
    /** The bytes of each event of `body.events` as sent, where they could be kept (see eventsBody). */
    eventBytes?: (Buffer | undefined)[];
  }
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const EVENTS_KEY = Buffer.from('"events"');

const isSpace = (c: number) => c === SPACE || c === LF || c === CR || c === TAB;

function skipSpace(b: Buffer, i: number): number {
  while (i < b.length && isSpace(b[i])) i++;
  return i;
}

/** Index just past the string starting at i (a quote), or -1. */
function endOfString(b: Buffer, i: number): number {
  for (i++; i < b.length; ) {
    const c = b[i];
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i++;
  }
  return -1;
}

/** Index just past the JSON value starting at i (not validated: JSON.parse does that), or -1. */
function endOfValue(b: Buffer, i: number): number {
  let depth = 0;
  while (i < b.length) {
    const c = b[i];
    if (c === QUOTE) {
      i = endOfString(b, i);
      if (i < 0 || depth === 0) return i;
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === 0) return i; // a number, true, false or null just ended
      if (--depth === 0) return i + 1;
    } else if (depth === 0 && (c === COMMA || isSpace(c))) return i;
    i++;
  }
  return depth === 0 ? i : -1;
}

/**
 * Where each element of `{"events":[…]}` lies in the bytes (start and end, two per event), or
 * undefined when the body has any other layout.
 */
export function eventSpans(b: Buffer): number[] | undefined {
  let i = skipSpace(b, 0);
  if (b[i] !== OPEN_OBJECT) return undefined;
  i = skipSpace(b, i + 1);
  if (!b.subarray(i, i + EVENTS_KEY.length).equals(EVENTS_KEY)) return undefined;
  i = skipSpace(b, i + EVENTS_KEY.length);
  if (b[i] !== COLON) return undefined;
  i = skipSpace(b, i + 1);
  if (b[i] !== OPEN_ARRAY) return undefined;
  i = skipSpace(b, i + 1);
  const spans: number[] = [];
  if (b[i] === CLOSE_ARRAY) i++;
  else {
    for (;;) {
      const end = endOfValue(b, i);
      if (end < 0) return undefined;
      spans.push(i, end);
      i = skipSpace(b, end);
      if (b[i] === COMMA) i = skipSpace(b, i + 1);
      else if (b[i] === CLOSE_ARRAY) {
        i++;
        break;
      } else return undefined;
    }
  }
  i = skipSpace(b, i);
  if (b[i] !== CLOSE_OBJECT) return undefined;
  return skipSpace(b, i + 1) === b.length ? spans : undefined;
}

function parseFailed(err: unknown): Error {
  return Object.assign(new Error(`The request body is not valid JSON: ${(err as Error).message}`), { status: 400, type: 'entity.parse.failed' });
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw parseFailed(err);
  }
}

/**
 * Parses the raw JSON body of POST /v1/events (after express.raw). For the usual UTF-8
 * `{"events":[…]}` each event is parsed from its own bytes, which are kept: an event accepted as sent
 * is then queued from them instead of being serialised again, and no megabyte-long string is built.
 * Any other layout is parsed as a whole; other UTF charsets are decoded first, like express.json.
 */
export function eventsBody(req: Request, _res: Response, next: NextFunction): void {
  if (!Buffer.isBuffer(req.body)) return next();
  try {
    let bytes: Buffer = req.body;
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset && charset !== 'utf-8' && charset !== 'utf8') {
      if (!charset.startsWith('utf-')) throw Object.assign(new Error(`unsupported charset "${charset}"`), { status: 415 });
      let text: string;
      try {
        text = new TextDecoder(charset).decode(bytes);
      } catch {
        throw Object.assign(new Error(`unsupported charset "${charset}"`), { status: 415 });
      }
      req.body = text.trim() === '' ? {} : parse(text);
      return next();
    }
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    const spans = bytes.length > 0 ? eventSpans(bytes) : undefined;
    if (!spans) {
      const text = bytes.toString('utf8');
      req.body = text.trim() === '' ? {} : parse(text);
      return next();
    }
    const events: unknown[] = [];
    const kept: (Buffer | undefined)[] = [];
    for (let k = 0; k < spans.length; k += 2) {
      const own = bytes.subarray(spans[k], spans[k + 1]);
      events.push(parse(own.toString('utf8')));
      kept.push(own.includes(LF) ? undefined : own); // a job stores one event per line
    }
    req.body = { events };
    req.eventBytes = kept;
    next();
  } catch (err) {
    next(err);
  }
}
