import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths that must never reach a log line, whatever logs them. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'api_secret',
  '*.api_secret',
  '*.*.api_secret',
  'service_account_secret',
  '*.service_account_secret',
  '*.*.service_account_secret',
  'password',
  '*.password',
  'jwtSecret',
  'encryptionKeys',
  'config.jwtSecret',
  'config.encryptionKeys',
];

export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '***' }, base: { service: 'mixpanel-delivery' } });
}
