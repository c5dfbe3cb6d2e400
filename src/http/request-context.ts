import type { Request } from 'express';
import type { Actor, Principal } from '../auth/actor.js';
import { plainAddress } from '../shared/client-address.js';

/** Who is calling, for routes (Express 5 forwards rejected promises to the error handler). */
export function principal(req: Pick<Request, 'principal'>): Principal {
  if (!req.principal) throw new Error('route mounted without authentication');
  return req.principal;
}

export function actor(req: Pick<Request, 'principal' | 'ip'>): Actor {
  return { ...principal(req), ip: plainAddress(req.ip) };
}
