import { Router } from 'express';
import { NotFoundError } from '../errors.js';
import { typed } from '../http/typed-route.js';
import { CATALOG, findCatalogEntry } from './catalog.js';
import type { CatalogEntry } from './catalog-entry.js';
import type { CatalogBlueprintStore } from './catalog-blueprint-store.js';

function toApi(entry: CatalogEntry) {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { blueprints, config_rules, ...rest } = entry;
  return rest;
}

export function catalogRoutes(store: CatalogBlueprintStore): Router {
  const r = Router();
  r.get(
    '/integration-catalog',
    typed('listCatalogEntries', (req, res) => {
      const { category } = req.query;
      res.json({ data: CATALOG.filter((e) => !category || e.category === category).map(toApi) });
    }),
  );
  r.get(
    '/integration-catalog/:key',
    typed('getCatalogEntry', (req, res) => {
      const entry = findCatalogEntry(req.params.key);
      if (!entry) throw new NotFoundError(`No catalog entry "${req.params.key}"`);
      res.json(toApi(entry));
    }),
  );
  r.get(
    '/integration-catalog/:key/variants/:variant/blueprint',
    typed('getVariantBlueprint', async (req, res) => {
      const entry = findCatalogEntry(req.params.key);
      if (!entry) throw new NotFoundError(`No catalog entry "${req.params.key}"`);
      const doc = await store.get(entry.key, req.params.variant);
      if (!doc) throw new NotFoundError(`No variant "${req.params.variant}" for ${entry.key}`);
      res.json(doc);
    }),
  );
  return r;
}
