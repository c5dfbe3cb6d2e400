import { randomBytes } from 'node:crypto';
import { gunzip, gzip } from './zlib.js';

describe('gzip and gunzip', () => {
  it.each([
    ['small (on the calling thread)', 10_000],
    ['large (on the thread pool)', 3 * 1024 * 1024],
  ])('round-trip %s inputs', async (_name, size) => {
    const data = Buffer.from(randomBytes(size / 2).toString('hex'));
    const packed = await gzip(data, 1);
    expect(packed.length).toBeLessThan(data.length);
    expect((await gunzip(packed, data.length)).equals(data)).toBe(true);
    expect((await gunzip(packed)).equals(data)).toBe(true); // size unknown
    expect((await gunzip(packed, 100)).equals(data)).toBe(true); // size announced too small: still whole
  });

  it('rejects (never throws) on input that is not gzip, small or large', async () => {
    const notGzip = Buffer.from('not gzip at all');
    const calls = [() => gunzip(notGzip, 10), () => gunzip(notGzip, 10 * 1024 * 1024), () => gunzip(notGzip)];
    for (const call of calls) {
      let promise: Promise<Buffer> | undefined;
      expect(() => (promise = call())).not.toThrow();
      await expect(promise).rejects.toThrow();
    }
  });
});
