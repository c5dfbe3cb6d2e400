import { Router } from 'express';
import type { Blueprint } from '../blueprints/blueprint.js';
import { actor, principal } from '../http/request-context.js';
import { toApi } from './integration.js';
import { etagOf, type InstallInput, type IntegrationService, type PatchInput } from './integration-service.js';

export function integrationRoutes(service: IntegrationService): Router {
  const r = Router();

  r.post('/integration-catalog/:key/install', async (req, res) => {
    const rec = await service.install(actor(req), req.params.key, req.body as InstallInput);
    res.status(201).set('ETag', etagOf(rec)).location(`/v1/admin/integrations/${rec.id}`).json(toApi(rec));
  });

  r.get('/integrations', async (req, res) => {
    const page = await service.list(principal(req).orgId, {
      cursor: req.query.cursor as string | undefined,
      limit: req.query.limit as number | undefined,
    });
    res.json({ ...page, data: page.data.map((rec) => toApi(rec, false)) });
  });

  r.get('/integrations/:id', async (req, res) => {
    const rec = await service.get(principal(req).orgId, req.params.id);
    res.set('ETag', etagOf(rec)).json(toApi(rec));
  });

  r.patch('/integrations/:id', async (req, res) => {
    const rec = await service.patch(actor(req), req.params.id, req.body as PatchInput, req.get('If-Match'));
    res.set('ETag', etagOf(rec)).json(toApi(rec));
  });

  r.delete('/integrations/:id', async (req, res) => {
    await service.remove(actor(req), req.params.id, req.get('If-Match'));
    res.status(204).end();
  });

  r.get('/integrations/:id/revisions', async (req, res) => {
    res.json(
      await service.revisions(principal(req).orgId, req.params.id, {
        cursor: req.query.cursor as string | undefined,
        limit: req.query.limit as number | undefined,
      }),
    );
  });

  r.get('/integrations/:id/revisions/:n', async (req, res) => {
    res.json(await service.revision(principal(req).orgId, req.params.id, Number(req.params.n)));
  });

  r.post('/integrations/:id/revisions/:n/restore', async (req, res) => {
    const rec = await service.restore(actor(req), req.params.id, Number(req.params.n), req.get('If-Match'));
    res.set('ETag', etagOf(rec)).json(toApi(rec));
  });

  r.get('/integrations/:id/blueprint', async (req, res) => {
    const rec = await service.get(principal(req).orgId, req.params.id);
    res.set('ETag', etagOf(rec)).json(rec.blueprint);
  });

  r.put('/integrations/:id/blueprint', async (req, res) => {
    const rec = await service.replaceBlueprint(actor(req), req.params.id, req.body as Blueprint, req.get('If-Match'));
    res.set('ETag', etagOf(rec)).json(toApi(rec));
  });


  return r;
}
