import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, Registry } from 'prom-client';

/**
 * What ingest counts (prom-client), for an operator: POST /v1/events answers by status (401s are keys
 * unknown or revoked, 429s clients guessing keys, 503s a busy or unreachable database, or too many
 * bodies waiting), the bodies held now, the events accepted or rejected by the checks, and those queued
 * for no integration. None is labelled by org: the request log has the org of every request.
 */
export class IngestMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter<'status'>({
    name: 'ingest_requests_total',
    help: 'POST /v1/events answers by HTTP status (202 accepted; 401 unknown key; 429 a client guessing keys; 503 database busy or unreachable, or INGEST_MAX_PENDING_BYTES of bodies waiting)',
    labelNames: ['status'],
    registers: [this.registry],
  });
  private readonly events = new Counter<'outcome'>({
    name: 'ingest_events_total',
    help: 'Events received on POST /v1/events by outcome: accepted (queued for delivery) or rejected (reported by index in the answer)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  private readonly unrouted = new Counter({
    name: 'ingest_events_unrouted_total',
    help: 'Events accepted for an org that had no enabled integration when they were committed: queued for nothing (install or enable one)',
    registers: [this.registry],
  });

  /** Read at each scrape: bytes of request bodies held (see IngestAdmission). */
  private readPendingBytes: () => number = () => 0;
  private readonly pendingBytes: Gauge = new Gauge({
    name: 'ingest_pending_bytes',
    help: 'Bytes of POST /v1/events bodies this process holds now (being read or waiting to be queued); at INGEST_MAX_PENDING_BYTES it answers 503',
    registers: [this.registry],
    collect: (): void => this.pendingBytes.set(this.readPendingBytes()),
  });

  /** Where the pending bytes gauge reads from. */
  watchPendingBytes(read: () => number): void {
    this.readPendingBytes = read;
  }

  /** Middleware counting every answer of the routes it is mounted on, whatever answered it. */
  countAnswers() {
    return (_req: Request, res: Response, next: NextFunction) => {
      res.on('finish', () => this.requests.inc({ status: String(res.statusCode) }));
      next();
    };
  }

  /** Accepted events that went to no integration (their org had none enabled). */
  queuedNowhere(events: number): void {
    if (events) this.unrouted.inc(events);
  }

  received(accepted: number, rejected: number): void {
    if (accepted) this.events.inc({ outcome: 'accepted' }, accepted);
    if (rejected) this.events.inc({ outcome: 'rejected' }, rejected);
  }
}
