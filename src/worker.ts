import { boot, prelude } from './main.js';

/** `npm run worker`: delivery only, sharing the database (and so the queue) with the API servers. */
const { config, logger, life } = prelude(); // signal handlers first: a SIGTERM during start-up stops cleanly
boot(config, logger, life)
  .then(({ db, services }) => {
    if (life.stopping) return;
    const worker = services.createWorker(logger);
    worker.start();
    life.defer('delivery worker', () => worker.stop());
    logger.info({ database: db.description }, 'delivery worker running');
  })
  .catch((err) => {
    logger.fatal({ err }, 'worker failed to start');
    void life.stop('failed to start', 1);
  });
