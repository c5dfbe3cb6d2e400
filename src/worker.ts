import { createLogger } from './logger.js';
import { boot, onSignals } from './main.js';

/** `npm run worker`: delivery only, sharing the database (and so the queue) with the API servers. */
async function worker(): Promise<void> {
  const { logger, db, services } = await boot();
  const w = services.createWorker(logger);
  w.start();
  logger.info({ database: db.description }, 'delivery worker running');
  onSignals(logger, async () => {
    await w.stop();
    await services.close();
    await db.close();
  });
}

worker().catch((err) => {
  createLogger('info').fatal({ err }, 'worker failed to start');
  process.exit(1);
});
