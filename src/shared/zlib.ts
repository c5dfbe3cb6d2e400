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

export function gunzip(data: Buffer): Promise<Buffer> {
  return gunzipAsync(data, { chunkSize: CHUNK_BYTES });
}
