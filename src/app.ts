import cors from 'cors';
import express, { type Express } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { cacheValidatorRouteMatchers } from './http/route-matchers.js';
import type { Knex } from 'knex';
import type { Config } from './config.js';
import { catalogRoutes } from './catalog/catalog-routes.js';
import { deliveryRoutes } from './delivery/delivery-routes.js';
import { auditRoutes } from './audit/audit-routes.js';
import { authenticate, requireDeclaredRole } from './http/auth.js';
import { jsonOnly } from './http/json-only.js';
import { metricsEndpoint } from './http/metrics-auth.js';
import { requestLog } from './http/request-log.js';
import { storableText } from './http/storable-text.js';
import { EXPOSED_HEADERS, securityHeaders } from './http/security-headers.js';
import { rateLimitPerUser } from './http/rate-limit.js';
import { docsRoutes } from './http/docs.js';
import { errorHandler, sendError } from './http/error-handler.js';
import { healthRoutes } from './http/health-routes.js';
import { eventsBody } from './ingest/events-body.js';
import { IngestAdmission } from './ingest/ingest-admission.js';
import { ingestAuth, ingestKeyRoutes, ingestRoutes } from './ingest/ingest-routes.js';
import { integrationRoutes } from './integrations/integration-routes.js';
import type { Logger } from './logger.js';
import type { Services } from './services.js';
import { SPEC_PATH } from './spec.js';

export { SPEC_PATH };

export interface AppDeps {
  config: Pick<
    Config,
    | 'jwtSecret'
    | 'jwtIssuer'
    | 'jwtAudience'
    | 'validateResponses'
    | 'ingestMaxBodyBytes'
    | 'ingestMaxPendingBytes'
    | 'rateLimitPerMinute'
    | 'corsOrigins'
    | 'trustProxy'
    | 'hstsMaxAgeSeconds'
    | 'metricsToken'
  >;
  knex: Knex;
  logger: Logger;
  services: Services;
}

/** request log → security headers → auth → rate limit → parsers → openapi validator → storable text → role guard → routes → errors. */
export function createApp({ config, knex, logger, services }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('query parser', 'extended');

  app.use(requestLog(logger));
  app.use(securityHeaders(config.hstsMaxAgeSeconds));
  if (config.corsOrigins.length > 0) {
    app.use(cors({ origin: config.corsOrigins, exposedHeaders: EXPOSED_HEADERS, maxAge: 600 }));
  }
  app.use(healthRoutes(services.readiness));
  app.use(docsRoutes(SPEC_PATH));
  app.get('/metrics', ...metricsEndpoint(services.metricsExport, config.metricsToken));
  // Who is calling comes first, from the headers alone: a request without a valid token is answered
  // 401 (or 429) before a byte of its body is read, so unauthenticated clients cannot make us hold bodies.
  app.use('/v1/events', services.ingestMetrics.countAnswers(), ingestAuth(services.ingest));
  app.use('/v1/admin', authenticate({ secret: config.jwtSecret, issuer: config.jwtIssuer, audience: config.jwtAudience }));
  app.use('/v1/admin', rateLimitPerUser(knex, config.rateLimitPerMinute));
  app.use(jsonOnly);
  // Then room for its body among those this process holds (503 without reading it when there is none).
  const admission = new IngestAdmission({ maxPendingBytes: config.ingestMaxPendingBytes, maxBodyBytes: config.ingestMaxBodyBytes, logger });
  services.ingestMetrics.watchPendingBytes(() => admission.pendingBytes);
  app.use('/v1/events', admission.middleware());
  app.use('/v1/events', express.raw({ type: () => true, limit: config.ingestMaxBodyBytes }), eventsBody);
  app.use(express.json({ limit: '1mb' }));
  cacheValidatorRouteMatchers();
  app.use(
    OpenApiValidator.middleware({
      apiSpec: SPEC_PATH,
      // every problem of a request in `details`, not only the first; params are still coerced, bodies are not
      validateRequests: { allowUnknownQueryParameters: false, coerceTypes: false, allErrors: true },
      validateResponses: config.validateResponses ? { removeAdditional: false } : false,
      validateSecurity: false,
      validateFormats: true,
      ignoreUndocumented: false,
      ignorePaths: /^\/(docs|metrics)/,
    }),
  );
  app.use('/v1/admin', storableText);
  app.use('/v1/admin', requireDeclaredRole);
  app.use(ingestRoutes(services.ingest));
  app.use('/v1/admin', catalogRoutes(services.catalogBlueprints));
  app.use('/v1/admin', integrationRoutes(services.integrations));
  app.use('/v1/admin', deliveryRoutes(services.delivery, services.preview));
  app.use('/v1/admin', ingestKeyRoutes(services.ingest));
  app.use('/v1/admin', auditRoutes(services.audit));
  app.use((req, res) => sendError(res, 404, 'NOT_FOUND', `No route for ${req.method} ${req.path}`));
  app.use(errorHandler(logger));
  return app;
}
