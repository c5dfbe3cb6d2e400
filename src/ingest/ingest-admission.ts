import type { NextFunction, Request, Response } from 'express';
import { ServiceBusyError } from '../errors.js';
import type { Logger } from '../logger.js';

/** How long a client refused for want of room is asked to wait. */
const RETRY_AFTER_SECONDS = 2;
/** While refusals go on, the log says so at most this often. */
const LOG_EVERY_MS = 10_000;
/** A body still arriving after this long counts for what has arrived of it, not its declared size. */
export const SLOW_BODY_MS = 2000;

declare module 'express-serve-static-core' {
  interface Request {
    /** Keeps the request's share of IngestAdmission's room until `work` settles, even if the client goes first. */
    holdBodyUntil?: (work: Promise<unknown>) => void;
    /** Tells IngestAdmission how large the body is once read (inflated, when it came compressed). */
    bodyRead?: (bytes: number) => void;
  }
}

/**
 * Bounds the memory POST /v1/events bodies take in one API process: a request holds its size (its
 * Content-Length, or the body limit when it has none) from before its body is read until it is
 * answered and the work on its events has settled (a client that hangs up does not take its events
 * out of memory, so it does not give back their room). One that would take the total past
 * `maxPendingBytes` is answered 503 with Retry-After without its body being read. Before, a database
 * that stopped answering (a lock, a stall) left every request waiting with its body in memory: 150
 * bodies of 4.4 MB took the process from 245 MB to 2.2 GB, and enough clients would have ended it. A
 * request alone is always let in, whatever its size. A body still arriving after SLOW_BODY_MS counts
 * for what has arrived of it: a few clients sending large Content-Lengths slowly cannot take the room.
 */
export class IngestAdmission {
  private held = 0;
  private refusedSinceLog = 0;
  private lastLog = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly opts: { maxPendingBytes: number; maxBodyBytes: number; logger: Pick<Logger, 'warn'> },
  ) {}

  /** Bytes of bodies held now (being read, or their events not yet answered for or queued). */
  get pendingBytes(): number {
    return this.held;
  }

  middleware() {
    return (req: Request, res: Response, next: NextFunction) => {
      const size = this.sizeOf(req);
      if (this.held > 0 && this.held + size > this.opts.maxPendingBytes) return next(this.refuse());
      // What the request counts for: its size; while its body is still arriving, from SLOW_BODY_MS on,
      // what has arrived of it (read off its connection's byte count, so the body's stream is left to
      // its parser), growing as the rest comes. A client trickling a body (or sending less than its
      // Content-Length says) holds no more room than the memory it takes.
      let share = size;
      let holds = 1; // the exchange itself, until its connection closes or it is answered; 0: let go
      this.held += share;
      const setShare = (bytes: number) => {
        if (holds === 0) return;
        this.held += bytes - share;
        share = bytes;
      };
      const socket = req.socket as { bytesRead?: number } | undefined;
      const start = socket?.bytesRead ?? 0;
      const arrived = () => Math.min(size, (socket?.bytesRead ?? start) - start);
      let slow: NodeJS.Timeout | undefined;
      if (size > 0 && !req.complete) {
        slow = setInterval(() => setShare(arrived()), SLOW_BODY_MS);
        slow.unref();
        req.once('end', () => {
          clearInterval(slow);
          if (share < size) setShare(arrived());
        });
      }
      const letGo = () => {
        if (--holds > 0) return;
        clearInterval(slow);
        this.held -= share;
      };
      res.once('close', letGo);
      // A compressed body takes its inflated size once read, more than its Content-Length said.
      req.bodyRead = (bytes) => {
        if (bytes > share) setShare(bytes);
      };
      req.holdBodyUntil = (work) => {
        holds++;
        void work.then(letGo, letGo);
      };
      next();
    };
  }

  /** What a request's body may take: its Content-Length (up to the limit), the limit when it is sent in chunks. */
  private sizeOf(req: Request): number {
    const length = req.headers['content-length'];
    if (length === undefined) return req.headers['transfer-encoding'] === undefined ? 0 : this.opts.maxBodyBytes;
    const declared = Number(length);
    return Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, this.opts.maxBodyBytes) : this.opts.maxBodyBytes;
  }

  private refuse(): ServiceBusyError {
    this.refusedSinceLog++;
    const now = Date.now();
    if (now - this.lastLog >= LOG_EVERY_MS) {
      this.opts.logger.warn(
        { pending_bytes: this.held, max_pending_bytes: this.opts.maxPendingBytes, refused: this.refusedSinceLog },
        `ingest is refusing requests (503): ${mb(this.held)} of request bodies wait to be queued, the most INGEST_MAX_PENDING_BYTES allows (${mb(this.opts.maxPendingBytes)}); is the database slow or locked?`,
      );
      this.lastLog = now;
      this.refusedSinceLog = 0;
    }
    return new ServiceBusyError(`This server holds as many events waiting to be queued as it may (${mb(this.opts.maxPendingBytes)}); retry shortly`, RETRY_AFTER_SECONDS);
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}
