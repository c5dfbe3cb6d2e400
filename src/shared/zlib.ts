import { promisify } from 'node:util';
import { gunzip as gunzipCb, gunzipSync, gzip as gzipCb, gzipSync } from 'node:zlib';

const gzipAsync = promisify(gzipCb);
const gunzipAsync = promisify(gunzipCb);

/**
 * zlib works on libuv's thread pool and hands its output back in chunks of this size, one event-loop
 * callback and one copy each; the default 16 KB means some 60 of them per megabyte.
 */
const CHUNK_BYTES = 256 * 1024;

/**
 * Up to this many bytes (in, or out for gunzip) zlib runs on the calling thread: a call through the
 * thread pool costs some 150–250 µs of CPU in stream and hand-over machinery whatever the size, while
 * the work itself takes 20 µs for a small job and ~120 µs for 128 KB (`node` 24, level 1). Larger
 * inputs still go to the pool, so no call holds the event loop for more than a few hundred µs.
 */
const ON_THREAD_MAX_BYTES = 256 * 1024;

function onThread(run: () => Buffer): Promise<Buffer> {
  try {
    return Promise.resolve(run());
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

/** gzip: small inputs on the calling thread, large ones off the event loop in few large chunks. */
export function gzip(data: Buffer | string, level: number): Promise<Buffer> {
  if (Buffer.byteLength(data) <= ON_THREAD_MAX_BYTES) return onThread(() => gzipSync(data, { level }));
  return gzipAsync(data, { level, chunkSize: CHUNK_BYTES });
}

/** `expectedBytes`, when known, makes the output one chunk (no copying the pieces together) and lets a small one be inflated on the calling thread. */
export function gunzip(data: Buffer, expectedBytes?: number): Promise<Buffer> {
  if (expectedBytes !== undefined && expectedBytes <= ON_THREAD_MAX_BYTES) return onThread(() => gunzipSync(data, { chunkSize: Math.max(expectedBytes, 1024) }));
  const chunkSize = expectedBytes ? Math.min(Math.max(expectedBytes, 64 * 1024), 64 * 1024 * 1024) : CHUNK_BYTES;
  return gunzipAsync(data, { chunkSize });
}
