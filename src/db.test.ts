import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isAbandonedDataDir, ownerRecord } from './db.js';
import { createLogger } from './logger.js';

describe('a data directory left by an earlier process', () => {
  const dirs: string[] = [];
  const folder = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mpd-db-test-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const logger = createLogger('silent');

  it('is abandoned once the process named in its service.pid is gone; not while it runs, nor without the file', async () => {
    const child = spawn('sleep', ['30']);
    try {
      const inUse = folder();
      writeFileSync(path.join(inUse, 'service.pid'), ownerRecord(child.pid!));
      expect(await isAbandonedDataDir(inUse, logger)).toBe(false);
      const starting = folder(); // a run that has made its folder and not written the file yet
      expect(await isAbandonedDataDir(starting, logger)).toBe(false);
      const gone = folder();
      const lines = ownerRecord(child.pid!);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      writeFileSync(path.join(gone, 'service.pid'), lines);
      expect(await isAbandonedDataDir(gone, logger)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
