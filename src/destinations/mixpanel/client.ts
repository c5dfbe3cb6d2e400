import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import got from 'got';
import { gzip } from '../../shared/zlib.js';

export interface MixpanelResponse {
  /** 0 when no HTTP answer came (timeout, connection error). */
  status: number;
  body: string;
  retryAfterMs?: number;
  error?: string;
  durationMs: number;
}

export interface ClientOptions {
  timeoutMs: number;
  gzipLevel: number;
}

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Sends one request body to Mixpanel over kept-alive connections, gzipped; never throws. */
export class MixpanelClient {
  private readonly agent = { http: new HttpAgent({ keepAlive: true, maxSockets: 256 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 256 }) };

  constructor(private readonly opts: ClientOptions) {}

  /** `credential`: HTTP Basic `user:password` (an API secret is the user with no password). */
  async post(url: string, json: Buffer, credential?: string): Promise<MixpanelResponse> {
    const started = performance.now();
    const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
    let body = json;
    if (this.opts.gzipLevel > 0) {
      body = await gzip(json, this.opts.gzipLevel);
      headers['Content-Encoding'] = 'gzip';
    }
    if (credential !== undefined) headers.Authorization = `Basic ${Buffer.from(credential).toString('base64')}`;
    try {
      const res = await got.post(url, {
        body,
        headers,
        agent: this.agent,
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: { request: this.opts.timeoutMs },
        decompress: true,
      });
      return {
        status: res.statusCode,
        body: res.body,
        retryAfterMs: retryAfterMs(res.headers['retry-after']),
        durationMs: performance.now() - started,
      };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return { status: 0, body: '', error: `${e.code ?? 'ERROR'}: ${e.message ?? String(err)}`, durationMs: performance.now() - started };
    }
  }

  close(): void {
    this.agent.http.destroy();
    this.agent.https.destroy();
  }
}
