import { FakeMixpanel } from '../fake-mixpanel/server.js';
import type { DeliveryWorker } from '../../src/delivery/delivery-worker.js';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { guideInstallBody, startTestApp, type TestApp } from './test-app.js';
import { waitFor } from './server-process.js';

export const US = { token: 'us-token', apiSecret: 'us-secret' };
export const EU = { token: 'eu-token', apiSecret: 'eu-secret' };
/** An India-resident project, whose organisation has a service account. */
export const IN = { token: 'in-token', apiSecret: 'in-secret', serviceAccount: { username: 'sa.in.datafly', secret: 'in-sa-secret', projectId: '4242' } };

/** Fast timings so retries, holds and refreshes happen within a test. */
export const FAST_DELIVERY_ENV = {
  DELIVERY_RETRY_BASE_MS: '20',
  DELIVERY_RETRY_MAX_MS: '100',
  DELIVERY_SWEEP_MS: '50',
  DELIVERY_TIMEOUT_MS: '400',
  DELIVERY_HOLD_MS: '100',
  DELIVERY_JOB_EXPIRE_SECONDS: '2',
  QUEUE_MAINTENANCE_SECONDS: '1',
  // Each test sees retries as it sets them: every attempt with the short back-off, and no circuit
  // breaker unless the test asks for one (test/outage.e2e.test.ts).
  DELIVERY_SHORT_RETRIES: '100',
  DELIVERY_BREAKER_THRESHOLD: '10000',
};

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A logger whose lines land in `lines`, as an operator would read them. */
export function capturingLogger(lines: LogLine[]) {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as LogLine);
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}

export interface Harness {
  t: TestApp;
  us: FakeMixpanel;
  eu: FakeMixpanel;
  /** Mixpanel's India region. */
  india: FakeMixpanel;
  worker: DeliveryWorker;
  /** What the worker logged (JSON lines, parsed). */
  logs: LogLine[];
  ingestKey: string;
  /** Installs an integration for org acme and returns its id. */
  install(name: string, config?: Record<string, unknown>, variant?: string): Promise<string>;
  post(events: unknown[]): Promise<{ status: number; body: { accepted: number; rejected: { index: number; reason: string }[] } }>;
  until(check: () => boolean | Promise<boolean>, what: string, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const us = new FakeMixpanel([US]);
  const eu = new FakeMixpanel([EU]);
  const india = new FakeMixpanel([IN]);
  await Promise.all([us.start(), eu.start(), india.start()]);
  const t = await startTestApp({ ...FAST_DELIVERY_ENV, MIXPANEL_US_URL: us.url, MIXPANEL_EU_URL: eu.url, MIXPANEL_IN_URL: india.url, ...env });
  const logs: LogLine[] = [];
  const worker = t.services.createWorker(capturingLogger(logs));
  worker.start();
  const key = await t.request.post('/v1/admin/ingest-keys').set(t.auth('acme')).send({ name: 'web' });
  return {
    t,
    us,
    eu,
    india,
    worker,
    logs,
    ingestKey: key.body.key,
    async install(name, config = { project_token: US.token, api_secret: US.apiSecret }, variant = 'default') {
      const res = await t.request
        .post('/v1/admin/integration-catalog/mixpanel/install')
        .set(t.auth('acme'))
        .send(guideInstallBody({ name, variant, config }));
      if (res.status !== 201) throw new Error(`install failed: ${JSON.stringify(res.body)}`);
      return res.body.id as string;
    },
    async post(events) {
      const res = await t.request.post('/v1/events').set('Authorization', `Bearer ${key.body.key}`).send({ events });
      return { status: res.status, body: res.body };
    },
    until: (check, what, ms = 15000) => waitFor(check, ms, what),
    async close() {
      await worker.stop();
      await t.close();
      await Promise.all([us.stop(), eu.stop(), india.stop()]);
    },
  };
}
