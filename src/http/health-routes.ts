import { Router } from 'express';
import type { Readiness } from '../readiness.js';

export function healthRoutes(readiness: Readiness): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    const { ok, body } = await readiness.state();
    res.status(ok ? 200 : 503).json(body);
  });
  return r;
}
