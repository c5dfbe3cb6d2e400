import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import supertest from 'supertest';
import { createApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { signAccessToken, type Role } from '../../src/http/auth.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface TestApp {
  app: Express;
  db: TestDatabase;
  config: Config;
  services: Services;
  request: ReturnType<typeof supertest>;
  token(org: string, role: Role, sub?: string): string;
  auth(org: string, role?: Role, sub?: string): { Authorization: string };
  close(): Promise<void>;
}

/** The real app (real router, validator with response validation, real PostgreSQL). */
export async function startTestApp(env: Record<string, string> = {}, existingDb?: TestDatabase): Promise<TestApp> {
  const db = existingDb ?? (await createTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    DATABASE_URL: db.url,
    RATE_LIMIT_PER_MINUTE: '100000', // the rate-limit test sets its own
    ...env,
  });
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const services = await createServices(db.knex, db.url, config, logger);
  let app: Express;
  try {
    app = createApp({ config, knex: db.knex, logger, services });
  } catch (err) {
    // A test file whose app cannot be built still leaves nothing running (jest would never exit).
    await services.close();
    if (!existingDb) await db.drop();
    throw err;
  }
  const token = (org: string, role: Role, sub = `user-${role}`) => signAccessToken(TEST_JWT_SECRET, { sub, org_id: org, role });
  return {
    app,
    db,
    config,
    services,
    request: supertest(app),
    token,
    auth: (org, role = 'admin', sub) => ({ Authorization: `Bearer ${token(org, role, sub)}` }),
    async close() {
      await services.close();
      if (!existingDb) await db.drop();
    },
  };
}

/** The body of the integration guide's "Management API Setup" curl. */
export function guideInstallBody(overrides: Record<string, unknown> = {}) {
  return {
    name: 'Mixpanel',
    variant: 'default',
    config: { project_token: 'abc123def456789', api_secret: 'your_api_secret', eu_data_residency: false },
    delivery_mode: 'server_side',
    ...overrides,
  };
}
