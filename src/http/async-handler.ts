import type { NextFunction, Request, Response } from 'express';
import type { Principal } from './auth.js';
import type { Actor } from '../integrations/integration-service.js';

/** Express 5 forwards rejected promises to the error handler; this only narrows types. */
export type Handler = (req: Request, res: Response, next: NextFunction) => Promise<unknown> | unknown;

export function principal(req: Request): Principal {
  if (!req.principal) throw new Error('route mounted without authentication');
  return req.principal;
}

export function actor(req: Request): Actor {
  return { ...principal(req), ip: req.ip };
}
