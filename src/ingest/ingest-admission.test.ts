import { jest } from '@jest/globals';
import { EventEmitter } from 'node:events';
import type { NextFunction, Request, Response } from 'express';
import { ServiceBusyError } from '../errors.js';
import { IngestAdmission, SLOW_BODY_MS } from './ingest-admission.js';

/**
 * A request with these headers, whose connection has read 300 bytes of headers (and `send`s' bytes of
 * its body, `end` when it is all there), and its response (which closes when told).
 */
function exchange(headers: Record<string, string>) {
  const res = new EventEmitter();
  const socket = { bytesRead: 300 };
  const req = Object.assign(new EventEmitter(), { headers, socket, complete: false });
  return {
    req: req as unknown as Request,
    res: res as unknown as Response,
    close: () => res.emit('close'),
    send: (bytes: number) => void (socket.bytesRead += bytes),
    end: () => {
      req.complete = true;
      req.emit('end');
    },
  };
}

describe('IngestAdmission', () => {
  const warn = jest.fn();
  let admission: IngestAdmission;
  let admit: (headers: Record<string, string>) => { error: unknown; close: () => void };
  beforeEach(() => {
    warn.mockClear();
    admission = new IngestAdmission({ maxPendingBytes: 1000, maxBodyBytes: 5000, logger: { warn } });
    const mw = admission.middleware();
    admit = (headers) => {
      const x = exchange(headers);
      let error: unknown = 'not called';
      mw(x.req, x.res, ((err?: unknown) => (error = err)) as NextFunction);
      return { error, close: x.close };
    };
  });

  it('lets a request alone in whatever its size, and holds its size until it is answered', () => {
    const alone = admit({ 'content-length': '4000' });
    expect(alone.error).toBeUndefined();
    expect(admission.pendingBytes).toBe(4000);
    expect(admit({ 'content-length': '10' }).error).toBeInstanceOf(ServiceBusyError);
    alone.close();
    expect(admission.pendingBytes).toBe(0);
  });

  it('keeps a share while the work on its events goes on, also after its client has gone', async () => {
    const x = exchange({ 'content-length': '600' });
    admission.middleware()(x.req, x.res, () => {});
    let settle!: () => void;
    x.req.holdBodyUntil!(new Promise<void>((resolve) => (settle = resolve)));
    x.close(); // the client hangs up
    expect(admission.pendingBytes).toBe(600);
    settle();
    await new Promise((r) => setImmediate(r));
    expect(admission.pendingBytes).toBe(0);
  });

  it('counts a body still arriving after SLOW_BODY_MS for what has arrived of it, then as it grows (looked at every SLOW_BODY_MS)', () => {
    jest.useFakeTimers();
    try {
      const slow = exchange({ 'content-length': '900' });
      admission.middleware()(slow.req, slow.res, () => {});
      slow.send(10);
      expect(admission.pendingBytes).toBe(900);
      jest.advanceTimersByTime(SLOW_BODY_MS);
      expect(admission.pendingBytes).toBe(10);
      // Room for others again; one whose body arrives in time keeps its size until it is let go.
      const fast = exchange({ 'content-length': '800' });
      let error: unknown = 'not called';
      admission.middleware()(fast.req, fast.res, ((err?: unknown) => (error = err)) as NextFunction);
      expect(error).toBeUndefined();
      fast.send(800);
      fast.end();
      slow.send(90);
      expect(admission.pendingBytes).toBe(810); // seen at the next look
      jest.advanceTimersByTime(SLOW_BODY_MS);
      expect(admission.pendingBytes).toBe(900);
      // One that sends nothing for that long counts for nothing.
      const silent = admit({ 'content-length': '100' });
      expect(silent.error).toBeUndefined();
      expect(admission.pendingBytes).toBe(1000);
      jest.advanceTimersByTime(SLOW_BODY_MS);
      expect(admission.pendingBytes).toBe(900);
      for (const x of [slow, fast]) x.close();
      silent.close();
      expect(admission.pendingBytes).toBe(0);
      slow.send(100); // after it was let go: not counted
      expect(admission.pendingBytes).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('counts a chunked body as the body limit, no body as nothing, a length past the limit or not a number as the limit', () => {
    const cases: [Record<string, string>, number][] = [
      [{ 'transfer-encoding': 'chunked' }, 5000],
      [{}, 0],
      [{ 'content-length': '999999' }, 5000],
      [{ 'content-length': 'x' }, 5000],
      [{ 'content-length': '12' }, 12],
    ];
    for (const [headers, size] of cases) {
      const own = new IngestAdmission({ maxPendingBytes: 100_000, maxBodyBytes: 5000, logger: { warn } });
      const x = exchange(headers);
      own.middleware()(x.req, x.res, () => {});
      expect(own.pendingBytes).toBe(size);
    }
  });

  it('logs refusals at most every 10 s, with how many there were', () => {
    jest.useFakeTimers({ now: 0 });
    try {
      const held = admit({ 'content-length': '900' });
      for (let i = 0; i < 5; i++) expect(admit({ 'content-length': '200' }).error).toBeInstanceOf(ServiceBusyError);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toEqual({ pending_bytes: 900, max_pending_bytes: 1000, refused: 1 });
      jest.setSystemTime(10_000);
      admit({ 'content-length': '200' });
      expect(warn).toHaveBeenCalledTimes(2);
      expect(warn.mock.calls[1][0]).toMatchObject({ refused: 5 });
      // Under the limit, a request gets in.
      expect(admit({ 'content-length': '100' }).error).toBeUndefined();
      held.close();
    } finally {
      jest.useRealTimers();
    }
  });
});
