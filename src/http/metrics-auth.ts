import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { bearerToken } from './bearer.js';
import { sendError } from './error-handler.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * GET /metrics names every org's integrations: with METRICS_TOKEN set it needs that bearer token,
 * which Prometheus sends with `authorization: { credentials: … }` in its scrape config. Compared in
 * constant time (over digests, so the length does not show either).
 */
export function metricsAuth(token: string | undefined) {
  const expected = token === undefined ? undefined : digest(token);
  return (req: Request, res: Response, next: NextFunction) => {
    if (!expected) return next();
    const given = bearerToken(req.get('Authorization'));
    if (given && timingSafeEqual(digest(given), expected)) return next();
    res.set('WWW-Authenticate', 'Bearer realm="metrics"');
    sendError(res, 401, 'INVALID_TOKEN', 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>');
  };
}

/** GET /metrics's handlers (the API server's, and `npm run worker`'s on WORKER_METRICS_PORT). */
export function metricsEndpoint(metrics: { contentType: string; text(): Promise<string> }, token: string | undefined): RequestHandler[] {
  return [
    metricsAuth(token),
    async (_req, res) => {
      res.type(metrics.contentType).send(await metrics.text());
    },
  ];
}
