import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isAbandonedDataDir } from './db.js';
import { createLogger } from './logger.js';

/** What the service writes into service.pid: the pid, then its start time (Linux /proc). */
const ownerLines = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return `${pid}\n${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}\n`;
};

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
      writeFileSync(path.join(inUse, 'service.pid'), ownerLines(child.pid!));
      expect(await isAbandonedDataDir(inUse, logger)).toBe(false);
      const starting = folder(); // a run that has made its folder and not written the file yet
      expect(await isAbandonedDataDir(starting, logger)).toBe(false);
      const gone = folder();
      const lines = ownerLines(child.pid!);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      writeFileSync(path.join(gone, 'service.pid'), lines);
      expect(await isAbandonedDataDir(gone, logger)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
