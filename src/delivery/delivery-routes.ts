import { Router } from 'express';
import { actor, principal } from '../http/request-context.js';
import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import type { DeliveryAdminService } from './delivery-admin-service.js';
import type { DeliveryPreview } from './delivery-preview.js';

export function deliveryRoutes(service: DeliveryAdminService, previews: DeliveryPreview): Router {
  const r = Router();
  const page = (q: Record<string, unknown>) => ({ cursor: q.cursor as string | undefined, limit: q.limit as number | undefined });

  r.get('/integrations/:id/deliveries', async (req, res) => {
    res.json(await service.deliveries(principal(req).orgId, req.params.id, req.query.status as string | undefined, page(req.query)));
  });
  r.get('/integrations/:id/dead-letters', async (req, res) => {
    const status = (req.query.status as string | undefined) ?? 'dead';
    res.json(await service.deadLetters(principal(req).orgId, req.params.id, status, page(req.query)));
  });
  r.post('/integrations/:id/dead-letters/replay', async (req, res) => {
    res.status(202).json(await service.replay(actor(req), req.params.id, req.body?.ids as string[] | undefined));
  });
  r.post('/integrations/:id/preview', async (req, res) => {
    res.json(await previews.preview(principal(req).orgId, req.params.id, req.body.events as CanonicalEvent[]));
  });
  r.get('/integrations/:id/stats', async (req, res) => {
    res.json(await service.stats(principal(req).orgId, req.params.id));
  });
  return r;
}
