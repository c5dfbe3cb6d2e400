import type { NextFunction, Request, Response } from 'express';
import type { Knex } from 'knex';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedError } from '../errors.js';

/**
 * Requests per user per minute, counted in PostgreSQL (rate-limiter-flexible's store), so every API
 * process behind a load balancer shares one budget per user.
 */
export function rateLimitPerUser(knex: Knex, perMinute: number) {
  const limiter = new RateLimiterPostgres({
    storeClient: knex,
    storeType: 'knex',
    tableName: 'rate_limits',
    tableCreated: true,
    clearExpiredByTimeout: false,
    keyPrefix: 'admin',
    points: perMinute,
    duration: 60,
  });
  return async (req: Request, res: Response, next: NextFunction) => {
    if (!req.principal) return next();
    try {
      const r = await limiter.consume(`${req.principal.orgId}:${req.principal.userId}`);
      res.set('RateLimit-Limit', String(perMinute));
      res.set('RateLimit-Remaining', String(r.remainingPoints));
      next();
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        return next(new RateLimitedError(`Too many requests: ${perMinute} per minute per user; retry in ${seconds} s`, seconds));
      }
      next(err);
    }
  };
}
