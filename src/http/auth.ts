import type { NextFunction, Request, Response } from 'express';
import jwt from 'jsonwebtoken';
import { ROLES, roleAtLeast, type Principal, type Role } from '../auth/actor.js';
import { ExpiredTokenError, ForbiddenError, InvalidTokenError } from '../errors.js';
import { bearerToken } from './bearer.js';

export { ROLES, type Principal, type Role };



declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

export interface AuthOptions {
  secret: string;
  issuer?: string;
  audience?: string;
}

/** Longest user or org id accepted: ids are stored (audit log, rows) and compared as text. */
export const MAX_CLAIM_LENGTH = 255;

/**
 * Why a `sub` or `org_id` claim cannot be used, or undefined. Checked once, here: everything after auth
 * stores and compares these as text, and PostgreSQL refuses NUL bytes and unpaired surrogates.
 */
function claimProblem(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return 'is missing';
  if (typeof value !== 'string') return `must be a string, not ${Array.isArray(value) ? 'an array' : `a ${typeof value}`}`;
  if (value.length > MAX_CLAIM_LENGTH) return `is longer than ${MAX_CLAIM_LENGTH} characters`;
  if (/\p{Cc}/u.test(value) || !value.isWellFormed()) return 'holds control characters or invalid Unicode';
  return undefined;
}

export function verifyAccessToken(token: string, opts: AuthOptions): Principal {
  let payload: jwt.JwtPayload | string;
  try {
    payload = jwt.verify(token, opts.secret, {
      algorithms: ['HS256'],
      issuer: opts.issuer,
      audience: opts.audience,
    });
  } catch (err) {
    if (err instanceof jwt.TokenExpiredError) throw new ExpiredTokenError();
    throw new InvalidTokenError('The access token is invalid');
  }
  if (typeof payload === 'string' || typeof payload.exp !== 'number') {
    throw new InvalidTokenError('The access token must carry an exp claim');
  }
  const { sub, org_id: orgId, role } = payload as Record<string, unknown>;
  for (const [name, value] of [['sub', sub], ['org_id', orgId]] as const) {
    const problem = claimProblem(value);
    if (problem) throw new InvalidTokenError(`The access token's ${name} claim ${problem}`);
  }
  if (!ROLES.includes(role as Role)) throw new InvalidTokenError('The access token has an unknown role');
  return { userId: sub as string, orgId: orgId as string, role: role as Role };
}

/** Requires a valid bearer token; the principal is attached to the request. */
export function authenticate(opts: AuthOptions) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const token = bearerToken(req.headers.authorization);
    if (!token) return next(new InvalidTokenError('Authorization: Bearer <token> is required'));
    try {
      req.principal = verifyAccessToken(token, opts);
      next();
    } catch (err) {
      next(err);
    }
  };
}

export function signAccessToken(
  secret: string,
  claims: { sub: string; org_id: string; role: Role },
  opts: { expiresInSeconds?: number; issuer?: string; audience?: string } = {},
): string {
  return jwt.sign(claims, secret, {
    algorithm: 'HS256',
    expiresIn: opts.expiresInSeconds ?? 15 * 60,
    ...(opts.issuer ? { issuer: opts.issuer } : {}),
    ...(opts.audience ? { audience: opts.audience } : {}),
  });
}


interface OpenApiRequest extends Request {
  openapi?: { schema?: Record<string, unknown> };
}

/**
 * The one place roles are enforced: each operation declares `x-min-role` in openapi.yaml.
 * An operation under /v1/admin without one is refused, so a new route cannot be open by accident.
 */
export function requireDeclaredRole(req: Request, _res: Response, next: NextFunction) {
  const schema = (req as OpenApiRequest).openapi?.schema;
  const min = schema?.['x-min-role'] as Role | undefined;
  if (!req.principal) return next();
  if (!min || !ROLES.includes(min)) return next(new ForbiddenError('This operation declares no role'));
  if (!roleAtLeast(req.principal.role, min)) {
    return next(new ForbiddenError(`This action needs the ${min} role or higher; your role is ${req.principal.role}`));
  }
  next();
}
