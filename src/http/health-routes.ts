import { Router } from 'express';
import type { Knex } from 'knex';
import { migrationConfig } from '../migrations.js';

export function healthRoutes(knex: Knex): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    try {
      const [, pending] = (await knex.migrate.list(migrationConfig)) as [unknown[], unknown[]];
      if (pending.length > 0) {
        return res.status(503).json({ status: 'unavailable', database: 'ok', migrations: `${pending.length} pending` });
      }
      res.json({ status: 'ok', database: 'ok', migrations: 'applied' });
    } catch {
      res.status(503).json({ status: 'unavailable', database: 'unreachable' });
    }
  });
  return r;
}
