import type { Knex } from 'knex';
import { migrationConfig } from './src/migrations.js';

/**
 * For the knex CLI: `npm run migrate` (NODE_OPTIONS='--import tsx' knex --knexfile knexfile.ts ...).
 * The CLI needs DATABASE_URL; the server itself migrates on start, embedded database included.
 */
const config: Knex.Config = {
  client: 'pg',
  connection: process.env.DATABASE_URL,
  migrations: migrationConfig,
};

export default config;
