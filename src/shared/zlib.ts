import { promisify } from 'node:util';
import { gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';

const gzipAsync = promisify(gzipCb);
const gunzipAsync = promisify(gunzipCb);

/**
 * zlib works on libuv's thread pool and hands its output back in chunks of this size, one event-loop
 * callback and one copy each; the default 16 KB means some 60 of them per megabyte.
 */
const CHUNK_BYTES = 256 * 1024;

/** gzip off the event loop, in few large chunks. */
export function gzip(data: Buffer | string, level: number): Promise<Buffer> {
  return gzipAsync(data, { level, chunkSize: CHUNK_BYTES });
}

/** `expectedBytes`, when known, makes the output one chunk: no copying the pieces together. */
export function gunzip(data: Buffer, expectedBytes?: number): Promise<Buffer> {
  const chunkSize = expectedBytes ? Math.min(Math.max(expectedBytes, 64 * 1024), 64 * 1024 * 1024) : CHUNK_BYTES;
  return gunzipAsync(data, { chunkSize });
}
