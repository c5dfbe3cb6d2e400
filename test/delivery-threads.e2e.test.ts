import { Writable } from 'node:stream';
import { pino } from 'pino';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config.js';
import { DeliveryThreads } from '../src/delivery-threads.js';
import { waitFor } from './support/server-process.js';

/** Delivering on a thread is tested through the real entry point (server-process); this is what happens when one dies. */
describe('delivery threads', () => {
  it('start a thread that died again, waiting longer each time, and stop for good', async () => {
    const lines: { msg: string; err?: { message: string } }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    // Nothing listens on port 1: each thread fails to connect while it starts, and ends.
    const url = 'postgresql://nobody@127.0.0.1:1/none';
    const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), ENCRYPTION_KEY: randomBytes(32).toString('base64'), DATABASE_URL: url });
    const threads = new DeliveryThreads(1, config, url, pino(sink));
    threads.start();
    const ended = () => lines.filter((l) => l.msg.startsWith('delivery thread ended'));
    await waitFor(() => ended().length >= 2, 20000, 'two restarts');
    expect(ended()[0].msg).toBe('delivery thread ended; starting another in 1000 ms');
    expect(ended()[1].msg).toBe('delivery thread ended; starting another in 2000 ms');
    expect(lines.find((l) => l.msg === 'delivery thread failed')?.err?.message).toContain('ECONNREFUSED');
    expect(await threads.metrics()).toEqual([]); // a thread that is starting or gone answers nothing

    await threads.stop();
    const count = ended().length;
    await new Promise((r) => setTimeout(r, 2500));
    expect(ended()).toHaveLength(count);
  }, 30000);
});
