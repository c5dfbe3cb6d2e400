import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** This request's id: the caller's X-Request-Id when it is a plain token, else a new UUID. */
    id: string;
  }
}

const CALLERS_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id (answered as X-Request-Id, and in the body of a 500) and writes one log
 * line when it ends: method, full path (no query string, which may hold filters), status, time, the
 * org it acted for and the id, so an operator can follow one request from a client's report to the log.
 */
export function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const start = process.hrtime.bigint();
    const given = req.get('X-Request-Id');
    req.id = given && CALLERS_ID.test(given) ? given : randomUUID();
    res.set('X-Request-Id', req.id);
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      logger.info(
        {
          request_id: req.id,
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
          org_id: req.principal?.orgId ?? req.ingestOrg,
        },
        'request',
      );
    });
    next();
  };
}
