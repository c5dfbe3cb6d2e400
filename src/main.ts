import { createApp } from './app.js';
import { ConfigError, describeProxy, loadConfig, type Config } from './config.js';
import { openDatabase, type Database } from './db.js';
import { DeliveryThreads } from './delivery-threads.js';
import { closeServer, listen, portOf } from './http/listen.js';
import { Lifecycle } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { nodeVersionProblem } from './node-version.js';
import { createServices, prepareDatabase, type Services } from './services.js';
import { NODE_ENGINE } from './spec.js';

export interface Runtime {
  config: Config;
  logger: Logger;
  db: Database;
  services: Services;
}

/** Before anything runs (no logger configured yet): says why the process cannot start, and ends it. */
function refuseToStart(reason: string): never {
  createLogger('info').fatal(reason);
  process.exit(1);
}

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) refuseToStart(`configuration error: ${err.message}`);
    throw err;
  }
}

/** Config, logger and a lifecycle whose signal handlers are in place before anything starts. */
export function prelude(): { config: Config; logger: Logger; life: Lifecycle } {
  const unsupported = nodeVersionProblem(process.versions.node, NODE_ENGINE);
  if (unsupported) refuseToStart(unsupported);
  const config = configOrExit();
  const logger = createLogger(config.logLevel);
  const life = new Lifecycle(logger).installSignalHandlers().watchParent();
  logger.info({ pid: process.pid, node: process.version }, 'starting');
  return { config, logger, life };
}

/**
 * Database (embedded unless DATABASE_URL) → migrations → services, shared by server and worker. Each
 * part is handed to the lifecycle as soon as it runs, so a signal at any point stops what exists.
 */
export function boot(config: Config, logger: Logger, life: Lifecycle): Promise<Runtime> {
  return life.track(
    (async () => {
      for (const notice of config.notices) logger.warn(notice);
      const db = await openDatabase(config, logger);
      life.defer('database', () => db.close());
      await prepareDatabase(db.knex, db.url);
      const services = await createServices(db.knex, db.url, config, logger);
      life.defer('services', () => services.close());
      return { config, logger, db, services };
    })(),
  );
}

async function main(config: Config, logger: Logger, life: Lifecycle): Promise<void> {
  const { db, services } = await boot(config, logger, life);
  if (life.stopping) return;
  const app = createApp({ config, knex: db.knex, logger, services });
  // Listening first: a port in use stops the start before any delivery has begun (before, the delivery
  // thread started and was stopped again). Stopped in reverse order, the server is deferred last so that
  // it stops accepting first, and delivery then finishes its batches.
  const server = await life.track(listen(app, config.port, 'the API server (PORT)'));
  server.keepAliveTimeout = config.httpKeepAliveTimeoutMs;
  server.headersTimeout = config.httpKeepAliveTimeoutMs + 1000; // above it, as Node's own defaults are
  // Delivery inside the server: on threads of its own (DELIVERY_THREADS), or on this event loop (0).
  const threads = config.workersInProcess && config.deliveryThreads > 0 ? new DeliveryThreads(config.deliveryThreads, config, db.url, logger) : undefined;
  const worker = config.workersInProcess && !threads ? services.createWorker(logger) : undefined;
  try {
    if (threads) {
      services.metricsExport.addSource(() => threads.metrics());
      threads.start();
      life.defer('delivery threads', () => threads.stop());
    }
    if (worker) {
      worker.start();
      life.defer('delivery worker', () => worker.stop());
    }
  } finally {
    life.defer('http server', () => closeServer(server));
  }
  const port = portOf(server);
  const { HTTPS_PROXY: httpsProxy, HTTP_PROXY: httpProxy } = config.mixpanelProxy;
  const proxy = [httpsProxy && `${describeProxy(httpsProxy)} (https)`, httpProxy && `${describeProxy(httpProxy)} (http)`].filter(Boolean).join(', ');
  logger.info(
    {
      port,
      database: db.description,
      workers: threads ? `${config.deliveryThreads} delivery thread(s) in process` : worker ? 'in process, on the event loop' : 'separate (npm run worker)',
      mixpanel: config.mixpanelBaseUrls,
      ...(proxy ? { mixpanel_proxy: proxy } : {}),
    },
    `listening on http://localhost:${port} — database: ${db.description}; delivering to ${config.mixpanelBaseUrls.us} (US), ` +
      `${config.mixpanelBaseUrls.eu} (EU), ${config.mixpanelBaseUrls.in} (IN)${proxy ? ` through the proxy ${proxy}` : ''}. Mint a token: npm run -s token -- --org acme --role admin [--ttl seconds]. ` +
      `API reference: http://localhost:${port}/docs`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { config, logger, life } = prelude();
  main(config, logger, life).catch((err) => {
    logger.fatal({ err }, 'failed to start');
    void life.stop('failed to start', 1);
  });
}
