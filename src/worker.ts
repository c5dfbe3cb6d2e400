import express from 'express';
import { closeServer, listen, portOf } from './http/listen.js';
import { metricsEndpoint } from './http/metrics-auth.js';
import { boot, prelude } from './main.js';

/** `npm run worker`: delivery only, sharing the database (and so the queue) with the API servers. */
const { config, logger, life } = prelude(); // signal handlers first: a SIGTERM during start-up stops cleanly
boot(config, logger, life)
  .then(({ db, services }) => {
    if (life.stopping) return;
    const startDelivery = () => {
      const worker = services.createWorker(logger);
      worker.start();
      life.defer('delivery worker', () => worker.stop());
      logger.info({ database: db.description }, 'delivery worker running');
    };
    if (config.workerMetricsPort === undefined) return startDelivery();
    // Its delivery counters (requests, outcomes, lateness of delayed jobs) for Prometheus, as the API's
    // GET /metrics. Listening first: a port in use stops the start before any delivery has begun.
    const app = express();
    app.disable('x-powered-by');
    app.get('/metrics', ...metricsEndpoint(services.metricsExport, config.metricsToken));
    return life.track(listen(app, config.workerMetricsPort, 'worker metrics (WORKER_METRICS_PORT)')).then((server) => {
      life.defer('worker metrics', () => closeServer(server));
      logger.info({ port: portOf(server) }, 'worker metrics on GET /metrics');
      startDelivery();
    });
  })
  .catch((err) => {
    logger.fatal({ err }, 'worker failed to start');
    void life.stop('failed to start', 1);
  });
