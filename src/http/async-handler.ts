import type { Request } from 'express';
import type { Principal } from './auth.js';
import type { Actor } from '../integrations/integration-service.js';

/** Express 5 forwards rejected promises to the error handler, so routes are plain async functions. */
export function principal(req: Request): Principal {
  if (!req.principal) throw new Error('route mounted without authentication');
  return req.principal;
}

export function actor(req: Request): Actor {
  return { ...principal(req), ip: req.ip };
}
