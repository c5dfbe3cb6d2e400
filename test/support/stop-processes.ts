import { stopAllProcesses } from './server-process.js';

// Whatever a test file started (servers, workers, their embedded PostgreSQL) is stopped when it ends,
// passed or failed, so jest exits and nothing is left running.
afterAll(() => stopAllProcesses(), 30_000);
