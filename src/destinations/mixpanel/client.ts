import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import got from 'got';
import type { MixpanelProxy } from '../../config.js';
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
  /** An egress proxy (Node's built-in proxy support: HTTPS_PROXY, HTTP_PROXY, NO_PROXY); none when empty. */
  proxy?: MixpanelProxy;
}

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** How long after got's own timeout a request is given up anyway (see post). */
const DEADLINE_GRACE_MS = 500;

/** Sends one request body to Mixpanel over kept-alive connections, gzipped; never throws. */
export class MixpanelClient {
  private readonly agent: { http: HttpAgent; https: HttpsAgent };

  constructor(private readonly opts: ClientOptions) {
    // Always the configured proxy settings, even none: never whatever else the process's environment says.
    const proxyEnv = { ...opts.proxy };
    this.agent = { http: new HttpAgent({ keepAlive: true, maxSockets: 256, proxyEnv }), https: new HttpsAgent({ keepAlive: true, maxSockets: 256, proxyEnv }) };
  }

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
    const request = got.post(url, {
      body,
      headers,
      agent: this.agent,
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { request: this.opts.timeoutMs },
      decompress: true,
    });
    // got's timeout does not fire while Node's agent is still opening a proxy's tunnel: a proxy that
    // took the connection and never answered CONNECT held the batch (and its worker's slot) forever.
    const deadline = setTimeout(() => request.cancel(), this.opts.timeoutMs + DEADLINE_GRACE_MS);
    try {
      const res = await request;
      return {
        status: res.statusCode,
        body: res.body,
        retryAfterMs: retryAfterMs(res.headers['retry-after']),
        durationMs: performance.now() - started,
      };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const error = request.isCanceled
        ? `ETIMEDOUT: no answer within ${this.opts.timeoutMs} ms (the connection, or the proxy's tunnel, never opened)`
        : `${e.code ?? 'ERROR'}: ${e.message ?? String(err)}`;
      return { status: 0, body: '', error, durationMs: performance.now() - started };
    } finally {
      clearTimeout(deadline);
    }
  }

  close(): void {
    this.agent.http.destroy();
    this.agent.https.destroy();
  }
}
