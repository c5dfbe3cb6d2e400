import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Knex } from 'knex';
import type { Config } from './config.js';
import { catalogRoutes } from './catalog/catalog-routes.js';
import { authenticate, requireDeclaredRole } from './http/auth.js';
import { docsRoutes } from './http/docs.js';
import { errorHandler, sendError } from './http/error-handler.js';
import { healthRoutes } from './http/health-routes.js';
import { integrationRoutes } from './integrations/integration-routes.js';
import type { Logger } from './logger.js';
import type { Services } from './services.js';

export const SPEC_PATH = fileURLToPath(new URL('../openapi.yaml', import.meta.url));

export interface AppDeps {
  config: Pick<Config, 'jwtSecret' | 'jwtIssuer' | 'jwtAudience' | 'validateResponses'>;
  knex: Knex;
  logger: Logger;
  services: Services;
}

/** parsers → auth → openapi validator → role guard → routes → errors. */
export function createApp({ config, knex, logger, services }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.set('query parser', 'extended');

  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      logger.info({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  });

  app.use(healthRoutes(knex));
  app.use(docsRoutes(SPEC_PATH));
  app.use(express.json({ limit: '1mb' }));
  app.use('/v1/admin', authenticate({ secret: config.jwtSecret, issuer: config.jwtIssuer, audience: config.jwtAudience }));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: SPEC_PATH,
      validateRequests: { allowUnknownQueryParameters: false, coerceTypes: false }, // params are still coerced; bodies are not,
      validateResponses: config.validateResponses ? { removeAdditional: false } : false,
      validateSecurity: false,
      validateFormats: true,
      ignoreUndocumented: false,
      ignorePaths: /^\/docs/,
    }),
  );
  app.use('/v1/admin', requireDeclaredRole);
  app.use('/v1/admin', catalogRoutes(services.catalogBlueprints));
  app.use('/v1/admin', integrationRoutes(services.integrations));
  app.use((req, res) => sendError(res, 404, 'NOT_FOUND', `No route for ${req.method} ${req.path}`));
  app.use(errorHandler(logger));
  return app;
}
