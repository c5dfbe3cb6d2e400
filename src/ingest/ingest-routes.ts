import { Router, type NextFunction, type Request, type Response } from 'express';
import { InvalidTokenError } from '../errors.js';
import { bearerToken } from '../http/bearer.js';
import { actor, principal } from '../http/request-context.js';
import { typed } from '../http/typed-route.js';
import type { IngestService } from './ingest-service.js';

declare module 'express-serve-static-core' {
  interface Request {
    ingestOrg?: string;
  }
}

/**
 * `Authorization: Bearer dk_live_…` (the scheme in any case, as HTTP has it) → the key's org (401
 * unknown; 429 when this client has tried too many unknown ones).
 */
export function ingestAuth(service: IngestService) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const key = bearerToken(req.headers.authorization);
    if (!key || !/^dk_live_[A-Za-z0-9_-]+$/.test(key)) return next(new InvalidTokenError('Authorization: Bearer dk_live_… (an ingestion key) is required'));
    try {
      req.ingestOrg = await service.authenticate(key, req.ip ?? req.socket.remoteAddress ?? '');
      next();
    } catch (err) {
      next(err);
    }
  };
}

export function ingestRoutes(service: IngestService): Router {
  const r = Router();
  r.post('/v1/events', async (req, res) => {
    // The validator has checked the body's shape; eventsBody handed over its events.
    const work = service.ingest(req.ingestOrg as string, req.receivedEvents ?? { kind: 'parsed', events: [] });
    req.holdBodyUntil?.(work);
    res.status(202).json(await work);
  });
  return r;
}

export function ingestKeyRoutes(service: IngestService): Router {
  const r = Router();
  r.post(
    '/ingest-keys',
    typed('createIngestKey', async (req, res) => {
      const { key, record } = await service.createKey(actor(req), req.body.name);
      res.status(201).json({ ...record, key });
    }),
  );
  r.get(
    '/ingest-keys',
    typed('listIngestKeys', async (req, res) => {
      res.json(await service.listKeys(principal(req).orgId, req.query));
    }),
  );
  r.delete(
    '/ingest-keys/:keyId',
    typed('revokeIngestKey', async (req, res) => {
      await service.revokeKey(actor(req), req.params.keyId);
      res.status(204).end();
    }),
  );
  return r;
}
