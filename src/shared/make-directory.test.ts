import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeDirectory } from './make-directory.js';

describe('makeDirectory', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mpd-mkdir-test-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('creates the folder and its missing parents, and takes one that exists', () => {
    const dir = path.join(root, 'a', 'b', 'c');
    makeDirectory(dir);
    expect(statSync(dir).isDirectory()).toBe(true);
    makeDirectory(dir);
    makeDirectory(path.relative(process.cwd(), path.join(root, 'a', 'd')));
    expect(statSync(path.join(root, 'a', 'd')).isDirectory()).toBe(true);
  });

  it('throws what the system refused: under a file, under a dangling link, under /proc', () => {
    writeFileSync(path.join(root, 'file'), '');
    expect(() => makeDirectory(path.join(root, 'file', 'x', 'y'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    symlinkSync(path.join(root, 'nowhere'), path.join(root, 'dangling'));
    expect(() => makeDirectory(path.join(root, 'dangling', 'x'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => makeDirectory('/proc/mpd-make-directory-test/x')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});
