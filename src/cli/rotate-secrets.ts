import { loadConfig } from '../config.js';
import { openDatabase } from '../db.js';
import { createLogger } from '../logger.js';
import { SecretBox } from '../secrets/secret-box.js';
import { rotateSecrets } from '../secrets/rotate-secrets.js';
import { prepareDatabase } from '../services.js';

/**
 * `npm run rotate-secrets`: with ENCRYPTION_KEYS="new:<key>,old:<key>", re-encrypts every secret under
 * "new" and prints the counts. Safe to interrupt and run again; then the old key can be removed.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const db = await openDatabase(config, logger);
  try {
    await prepareDatabase(db.knex, db.url);
    const report = await rotateSecrets(db.knex, new SecretBox(config.encryptionKeys));
    process.stdout.write(JSON.stringify({ current_key: config.encryptionKeys[0].id, ...report }) + '\n');
    if (report.unknownKey > 0 || report.failed > 0) process.exitCode = 3;
  } finally {
    await db.close();
  }
}

main().catch((err) => {
  process.stderr.write(`rotate-secrets: ${(err as Error).message}\n`);
  process.exit(1);
});
