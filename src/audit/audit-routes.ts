import { Router } from 'express';
import { principal } from '../http/request-context.js';
import { typed } from '../http/typed-route.js';
import type { AuditStore } from './audit-store.js';

export function auditRoutes(store: AuditStore): Router {
  const r = Router();
  r.get(
    '/audit-logs',
    typed('listAuditLogs', async (req, res) => {
      const { resource_type: resourceType, resource_id: resourceId, from, to, cursor, limit } = req.query;
      res.json(await store.list(principal(req).orgId, { resourceType, resourceId, from, to }, { cursor, limit }));
    }),
  );
  return r;
}
