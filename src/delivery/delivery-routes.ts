import { Router } from 'express';
import { actor, principal } from '../http/request-context.js';
import { typed } from '../http/typed-route.js';
import type { CanonicalEvent } from '../blueprints/canonical-event.js';
import type { DeliveryAdminService } from './delivery-admin-service.js';
import type { DeliveryPreview } from './delivery-preview.js';

export function deliveryRoutes(service: DeliveryAdminService, previews: DeliveryPreview): Router {
  const r = Router();

  r.get(
    '/integrations/:id/deliveries',
    typed('listDeliveries', async (req, res) => {
      const { status, cursor, limit } = req.query;
      res.json(await service.deliveries(principal(req).orgId, req.params.id, status, { cursor, limit }));
    }),
  );
  r.get(
    '/integrations/:id/dead-letters',
    typed('listDeadLetters', async (req, res) => {
      const { status = 'dead', cursor, limit } = req.query;
      res.json(await service.deadLetters(principal(req).orgId, req.params.id, status, { cursor, limit }));
    }),
  );
  r.post(
    '/integrations/:id/dead-letters/replay',
    typed('replayDeadLetters', async (req, res) => {
      res.status(202).json(await service.replay(actor(req), req.params.id, req.body?.ids));
    }),
  );
  r.post(
    '/integrations/:id/preview',
    typed('previewDelivery', async (req, res) => {
      // Events are mapped as they come (the engine refuses, with a reason, what is not a canonical event).
      res.json(await previews.preview(principal(req).orgId, req.params.id, req.body.events as unknown as CanonicalEvent[]));
    }),
  );
  r.get(
    '/integrations/:id/stats',
    typed('getDeliveryStats', async (req, res) => {
      res.json(await service.stats(principal(req).orgId, req.params.id));
    }),
  );
  return r;
}
