import { Router } from 'express';
import { principal } from '../http/request-context.js';
import type { AuditStore } from './audit-store.js';

export function auditRoutes(store: AuditStore): Router {
  const r = Router();
  r.get('/audit-logs', async (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    res.json(
      await store.list(
        principal(req).orgId,
        { resourceType: q.resource_type, resourceId: q.resource_id, from: q.from, to: q.to },
        { cursor: q.cursor, limit: req.query.limit as number | undefined },
      ),
    );
  });
  return r;
}
