import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * scripts/with-node.sh, which npm start, npm run worker, npm test and .ci/run go through: a `node` on
 * PATH that is too old (the machines ship Node.js 20) is replaced by Node.js 24, installed once with
 * npm into the cache. Here the old node and npm are stand-ins (no registry): npm "installs" a link to
 * the Node.js running these tests, and logs what it was asked.
 */
describe('scripts/with-node.sh', () => {
  let dir = '';
  const major = process.versions.node.split('.')[0];
  const pkg = `node-${process.platform}-${process.arch}`;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mpd-with-node-'));
    mkdirSync(path.join(dir, 'good'));
    symlinkSync(process.execPath, path.join(dir, 'good', 'node'));
    mkdirSync(path.join(dir, 'old'));
    writeFileSync(path.join(dir, 'old', 'node'), '#!/bin/sh\necho "$FAKE_NODE_VERSION"\n');
    mkdirSync(path.join(dir, 'tools'));
    writeFileSync(
      path.join(dir, 'tools', 'npm'),
      `#!/bin/sh
echo "$@" >> "$NPM_LOG"
[ -n "$NPM_FAIL" ] && exit 1
prefix=""; package=""
while [ $# -gt 0 ]; do case "$1" in --prefix) prefix="$2"; shift 2 ;; -*) shift ;; *) package="$1"; shift ;; esac; done
mkdir -p "$prefix/node_modules/\${package%@*}/bin" && ln -s "$REAL_NODE" "$prefix/node_modules/\${package%@*}/bin/node"
`,
    );
    for (const f of ['old/node', 'tools/npm']) chmodSync(path.join(dir, f), 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => rmSync(path.join(dir, 'cache'), { recursive: true, force: true }));

  const npmLog = () => path.join(dir, 'npm.log');
  const npmCalls = () => (existsSync(npmLog()) ? readFileSync(npmLog(), 'utf8').trim().split('\n') : []);
  /** with-node.sh with `first` (good or old) first on PATH, printing the version of the node it runs. */
  function run(first: 'good' | 'old', opts: { fakeVersion?: string; args?: string[]; npmFails?: boolean } = {}) {
    rmSync(npmLog(), { force: true });
    const r = spawnSync('scripts/with-node.sh', [...(opts.args ?? []), 'node', '-p', 'process.versions.node'], {
      env: {
        PATH: [path.join(dir, first), path.join(dir, 'tools'), '/usr/bin', '/bin'].join(':'),
        HOME: dir,
        XDG_CACHE_HOME: path.join(dir, 'cache'),
        NPM_LOG: npmLog(),
        REAL_NODE: process.execPath,
        FAKE_NODE_VERSION: opts.fakeVersion ?? '20.20.2',
        ...(opts.npmFails ? { NPM_FAIL: '1' } : {}),
      },
    });
    return { status: r.status, out: r.stdout.toString().trim(), err: r.stderr.toString() };
  }

  it('keeps a node on PATH that satisfies package.json\'s engines, installing nothing', () => {
    expect(run('good')).toEqual({ status: 0, out: process.versions.node, err: '' });
    expect(run('old', { fakeVersion: '22.12.0' }).out).toBe('22.12.0');
    expect(npmCalls()).toEqual([]);
  });

  it('installs Node.js 24 once into the cache for an older node, then runs the command under it', () => {
    const first = run('old', { fakeVersion: '22.11.9' });
    expect(first).toMatchObject({ status: 0, out: process.versions.node });
    expect(first.err).toContain('this project needs Node.js 22.12 or later (found 22.11.9); installing Node.js 24');
    const cache = path.join(dir, 'cache', 'mixpanel-delivery', 'node24');
    expect(npmCalls()).toEqual([`install --prefix ${cache} --no-audit --no-fund --no-save --loglevel=error ${pkg}@24`]);
    // The next run finds it in the cache.
    expect(run('old')).toEqual({ status: 0, out: process.versions.node, err: '' });
    expect(npmCalls()).toEqual([]);
  });

  it('--major N wants that major whatever PATH has (CI)', () => {
    const other = `${Number(major) + 2}.1.0`;
    const r = run('old', { fakeVersion: other, args: ['--major', major] });
    expect(r).toMatchObject({ status: 0, out: process.versions.node });
    expect(npmCalls()).toEqual([`install --prefix ${path.join(dir, 'cache', 'mixpanel-delivery', `node${major}`)} --no-audit --no-fund --no-save --loglevel=error ${pkg}@${major}`]);
    expect(run('good', { args: ['--major', major] })).toEqual({ status: 0, out: process.versions.node, err: '' });
    expect(npmCalls()).toEqual([]);
  });

  it('says what to do, and runs nothing, when the install fails', () => {
    const r = run('old', { npmFails: true });
    expect(r.status).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain(`could not install ${pkg}@24 from the npm registry: install Node.js 22.12 or later yourself`);
  });
});

/** scripts/ensure-build.sh (before npm start, worker, token, rotate-secrets), in a copy of the layout it expects. */
describe('scripts/ensure-build.sh', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mpd-ensure-build-'));
    mkdirSync(path.join(dir, 'scripts'));
    copyFileSync('scripts/ensure-build.sh', path.join(dir, 'scripts', 'ensure-build.sh'));
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'x', private: true, scripts: { build: 'echo built > built.txt' } }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const run = () => {
    const r = spawnSync(path.join(dir, 'scripts', 'ensure-build.sh'), [], { cwd: os.tmpdir(), env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    return { status: r.status, err: r.stderr.toString() };
  };

  it('builds where TypeScript is installed', () => {
    mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
    writeFileSync(path.join(dir, 'node_modules', '.bin', 'tsc'), '#!/bin/sh\n');
    chmodSync(path.join(dir, 'node_modules', '.bin', 'tsc'), 0o755);
    expect(run().status).toBe(0);
    expect(readFileSync(path.join(dir, 'built.txt'), 'utf8').trim()).toBe('built');
  });

  it('without TypeScript (npm install --omit=dev) uses the build that is there, or says there is none', () => {
    expect(run()).toEqual({ status: 1, err: 'no build in dist/: run npm run build where TypeScript is installed\n' });
    mkdirSync(path.join(dir, 'dist', 'src'), { recursive: true });
    writeFileSync(path.join(dir, 'dist', 'src', 'main.js'), '');
    expect(run()).toEqual({ status: 0, err: '' });
    expect(existsSync(path.join(dir, 'built.txt'))).toBe(false);
  });
});
