import type { MixpanelEndpoint } from './wire.js';
import type { MixpanelResponse } from './client.js';

/**
 * What a Mixpanel answer means for the items of one request (MIXPANEL.md, "Responses and errors"):
 * - delivered: every item is in;
 * - partial: the items in `failed` are refused for good (with Mixpanel's message), the rest are in;
 * - rejected: every item is refused for good (a 400 without per-item detail, or `status: 0`);
 * - auth: credentials refused (401/403), hold everything and surface it;
 * - split: the body is too large (413), or refused as a whole without per-item detail (400): resend in halves;
 * - retry: 429, 5xx, timeouts, connection errors, a 2xx that is not Mixpanel's JSON; `retryAfterMs`
 *   when Mixpanel said so.
 */
export type Outcome =
  | { kind: 'delivered' }
  | { kind: 'partial'; failed: Map<number, string> }
  | { kind: 'rejected'; message: string }
  | { kind: 'auth'; message: string }
  | { kind: 'split' }
  | { kind: 'retry'; message: string; retryAfterMs?: number; rateLimited: boolean };

function parse(body: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body);
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function notMixpanel(res: MixpanelResponse): string {
  const start = res.body.slice(0, 80).replace(/\s+/g, ' ').trim();
  return `HTTP ${res.status} without Mixpanel's JSON answer (${start ? `it began "${start}"` : 'an empty body'}): is the Mixpanel URL right, or is a proxy answering in its place?`;
}

export function classify(endpoint: MixpanelEndpoint, res: MixpanelResponse, itemCount: number): Outcome {
  const body = parse(res.body);
  const message = String(body?.error ?? res.error ?? (res.body.slice(0, 200) || `HTTP ${res.status}`));
  if (res.status === 0) return { kind: 'retry', message, rateLimited: false };
  if (res.status === 429) return { kind: 'retry', message, retryAfterMs: res.retryAfterMs, rateLimited: true };
  if (res.status >= 500 || res.status === 408) return { kind: 'retry', message, retryAfterMs: res.retryAfterMs, rateLimited: false };
  if (res.status === 401 || res.status === 403) return { kind: 'auth', message };
  if (res.status === 413) return itemCount > 1 ? { kind: 'split' } : { kind: 'rejected', message };
  if (res.status === 400 && endpoint === '/import' && Array.isArray(body?.failed_records)) {
    const failed = new Map<number, string>();
    for (const r of body.failed_records as Record<string, unknown>[]) {
      if (typeof r.index === 'number') failed.set(r.index, [r.field, r.message].filter(Boolean).join(': ') || message);
    }
    if (failed.size > 0) return { kind: 'partial', failed };
  }
  // A refusal of the whole request without per-item detail: one item may be the cause, so halves are
  // sent apart until the item (or items) Mixpanel refuses stands alone, and its neighbours go through.
  if (res.status === 400 && itemCount > 1) return { kind: 'split' };
  if (res.status >= 200 && res.status < 300) {
    // Mixpanel always answers with its JSON: anything else (a proxy's or a web server's page, at a
    // wrong MIXPANEL_*_URL) did not store the items, so they are sent again, not counted as delivered.
    if (!body) return { kind: 'retry', message: notMixpanel(res), rateLimited: false };
    if (endpoint !== '/import' && body.status === 0) return { kind: 'rejected', message };
    return { kind: 'delivered' };
  }
  return { kind: 'rejected', message };
}
