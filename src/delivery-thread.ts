import { parentPort, threadId, workerData } from 'node:worker_threads';
import { createKnex } from './db.js';
import type { FromThread, ThreadData, ToThread } from './delivery-threads.js';
import { createLogger } from './logger.js';
import { createServices } from './services.js';

/**
 * The body of a delivery thread (see delivery-threads): a delivery worker on connections of its own
 * to the server's database, with the server's configuration (its keys arrive as plain byte arrays).
 */
async function deliveryThread(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('delivery-thread.ts runs on a worker thread started by DeliveryThreads');
  const data = workerData as ThreadData;
  const config = { ...data.config, encryptionKeys: data.config.encryptionKeys.map((k) => ({ id: k.id, key: Buffer.from(k.key) })) };
  const databaseUrl = data.databaseUrl;
  const logger = createLogger(config.logLevel).child({ thread: threadId });
  const knex = createKnex(databaseUrl, config.dbPoolMax, config.dbAcquireTimeoutMs);
  const services = await createServices(knex, databaseUrl, config, logger);
  const worker = services.createWorker(logger);
  worker.start();
  logger.info('delivery thread running');

  port.on('message', (m: ToThread) => {
    if (m.type === 'metrics') {
      void services.metrics.registry.getMetricsAsJSON().then((metrics) => port.postMessage({ type: 'metrics', id: m.id, metrics } satisfies FromThread));
      return;
    }
    void (async () => {
      await worker.stop();
      await services.close();
      await knex.destroy();
      process.exit(0); // on a worker thread: ends this thread only
    })();
  });
}

// A failure is an uncaught rejection: the thread ends and DeliveryThreads logs it and starts another.
void deliveryThread();
