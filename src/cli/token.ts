import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { ROLES, signAccessToken, type Role } from '../http/auth.js';

/** `npm run -s token -- --org <org_id> --role <role> [--sub <user>] [--ttl <seconds>]` prints a token. */
function main(): void {
  const { values } = parseArgs({
    options: {
      org: { type: 'string' },
      role: { type: 'string', default: 'admin' },
      sub: { type: 'string', default: 'cli-user' },
      ttl: { type: 'string', default: String(15 * 60) },
    },
  });
  if (!values.org) throw new ConfigError('--org <org_id> is required');
  if (!ROLES.includes(values.role as Role)) throw new ConfigError(`--role must be one of ${ROLES.join(', ')}`);
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1) throw new ConfigError(`--ttl must be a whole number of seconds, 1 or more, got "${values.ttl}"`);
  const config = loadConfig();
  const token = signAccessToken(
    config.jwtSecret,
    { sub: values.sub as string, org_id: values.org, role: values.role as Role },
    { expiresInSeconds: ttl, issuer: config.jwtIssuer, audience: config.jwtAudience },
  );
  process.stdout.write(token + '\n');
}

try {
  main();
} catch (err) {
  process.stderr.write(`token: ${(err as Error).message}\n`);
  process.exit(2);
}
