import type { Server } from 'node:http';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db.js';
import { createLogger } from './logger.js';
import { createServices, prepareDatabase } from './services.js';

/** Starts the service: config → database (embedded unless DATABASE_URL) → migrations → HTTP. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      createLogger('info').fatal(`configuration error: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  for (const notice of config.notices) logger.warn(notice);

  const db = await openDatabase(config, logger);
  try {
    await prepareDatabase(db.knex);
  } catch (err) {
    await db.close();
    throw err;
  }
  const services = createServices(db.knex, config);
  const app = createApp({ config, knex: db.knex, logger, services });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.port, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info(
    { port, database: db.description },
    `listening on http://localhost:${port} — database: ${db.description}. ` +
      `Mint a token: npm run -s token -- --org acme --role admin. ` +
      `Then: curl -X POST http://localhost:${port}/v1/admin/integration-catalog/mixpanel/install ` +
      `-H "Authorization: Bearer $(npm run -s token -- --org acme --role admin)" -H "Content-Type: application/json" -d @body.json ` +
      `(API reference: http://localhost:${port}/docs)`,
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await db.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  createLogger('info').fatal({ err }, 'failed to start');
  process.exit(1);
});
