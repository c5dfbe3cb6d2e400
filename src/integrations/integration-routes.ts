import { Router } from 'express';
import { actor, principal } from '../http/request-context.js';
import { typed } from '../http/typed-route.js';
import { toApi } from './integration.js';
import { etagOf, type IntegrationService } from './integration-service.js';

/**
 * The revision number as a number: the contract has checked it is an integer in range, but Express
 * hands path parameters over as written (`1e3`, `01`), which PostgreSQL would refuse as an integer.
 */
function revisionNumber(n: number | string): number {
  return Number(n);
}

export function integrationRoutes(service: IntegrationService): Router {
  const r = Router();

  r.post(
    '/integration-catalog/:key/install',
    typed('installIntegration', async (req, res) => {
      const rec = await service.install(actor(req), req.params.key, req.body);
      res.status(201).set('ETag', etagOf(rec)).location(`/v1/admin/integrations/${rec.id}`).json(toApi(rec));
    }),
  );
  r.get(
    '/integrations',
    typed('listIntegrations', async (req, res) => {
      const page = await service.list(principal(req).orgId, req.query);
      res.json({ ...page, data: page.data.map((rec) => toApi(rec, false)) });
    }),
  );
  r.get(
    '/integrations/:id',
    typed('getIntegration', async (req, res) => {
      const rec = await service.get(principal(req).orgId, req.params.id);
      res.set('ETag', etagOf(rec)).json(toApi(rec));
    }),
  );
  r.patch(
    '/integrations/:id',
    typed('updateIntegration', async (req, res) => {
      const rec = await service.patch(actor(req), req.params.id, req.body, req.get('If-Match'));
      res.set('ETag', etagOf(rec)).json(toApi(rec));
    }),
  );
  r.delete(
    '/integrations/:id',
    typed('deleteIntegration', async (req, res) => {
      await service.remove(actor(req), req.params.id, req.get('If-Match'));
      res.status(204).end();
    }),
  );
  r.get(
    '/integrations/:id/revisions',
    typed('listRevisions', async (req, res) => {
      res.json(await service.revisions(principal(req).orgId, req.params.id, req.query));
    }),
  );
  r.get(
    '/integrations/:id/revisions/:n',
    typed('getRevision', async (req, res) => {
      res.json(await service.revision(principal(req).orgId, req.params.id, revisionNumber(req.params.n)));
    }),
  );
  r.post(
    '/integrations/:id/revisions/:n/restore',
    typed('restoreRevision', async (req, res) => {
      const rec = await service.restore(actor(req), req.params.id, revisionNumber(req.params.n), req.get('If-Match'));
      res.set('ETag', etagOf(rec)).json(toApi(rec));
    }),
  );
  r.get(
    '/integrations/:id/blueprint',
    typed('getBlueprint', async (req, res) => {
      const rec = await service.get(principal(req).orgId, req.params.id);
      res.set('ETag', etagOf(rec)).json(rec.blueprint);
    }),
  );
  r.put(
    '/integrations/:id/blueprint',
    typed('replaceBlueprint', async (req, res) => {
      const rec = await service.replaceBlueprint(actor(req), req.params.id, req.body, req.get('If-Match'));
      res.set('ETag', etagOf(rec)).json(toApi(rec));
    }),
  );
  return r;
}
