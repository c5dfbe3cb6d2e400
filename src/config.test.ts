import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, describeProxy, loadConfig } from './config.js';

const key = randomBytes(32).toString('base64');
const secret = 'x'.repeat(40);

describe('loadConfig', () => {
  it('uses defaults', () => {
    const c = loadConfig({ JWT_SECRET: secret, ENCRYPTION_KEY: key });
    expect(c.port).toBe(8084);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.mixpanelBaseUrls.eu).toBe('https://api-eu.mixpanel.com');
    expect(c.encryptionKeys[0].id).toBe('k1');
  });

  it('reads ENCRYPTION_KEYS with ids, first is current', () => {
    const c = loadConfig({ JWT_SECRET: secret, ENCRYPTION_KEYS: `new:${key},old:${randomBytes(32).toString('base64')}` });
    expect(c.encryptionKeys.map((k) => k.id)).toEqual(['new', 'old']);
  });

  it.each([
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: 'c2hvcnQ=' }, /32 bytes/],
    [{ JWT_SECRET: 'short', ENCRYPTION_KEY: key }, /at least 32/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, PORT: 'eighty' }, /PORT/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEYS: `bad id:${key}` }, /ENCRYPTION_KEYS/],
    [{ NODE_ENV: 'production', ENCRYPTION_KEY: key }, /requires JWT_SECRET/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, DATABASE_URL: 'foo' }, /DATABASE_URL must be a PostgreSQL URL/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, DATABASE_URL: 'mysql://root@127.0.0.1/db' }, /DATABASE_URL must be a PostgreSQL URL/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, WORKERS_IN_PROCESS: 'no' }, /WORKERS_IN_PROCESS must be true or false, got "no"/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, VALIDATE_RESPONSES: 'yes' }, /VALIDATE_RESPONSES must be true or false/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, MIXPANEL_EU_URL: '127.0.0.1:8090' }, /MIXPANEL_EU_URL must be an http\(s\) base URL/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, MIXPANEL_US_URL: 'ftp://proxy' }, /MIXPANEL_US_URL must be an http\(s\) base URL/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, CORS_ORIGINS: 'https://ui.example.com/' }, /CORS_ORIGINS entries must be origins .* got "https:\/\/ui.example.com\/"/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, CORS_ORIGINS: 'https://a.example.com, ui.example.com' }, /got "ui.example.com"/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, HTTPS_PROXY: 'proxy.internal:3128' }, /HTTPS_PROXY must be an http\(s\) URL of a proxy/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, http_proxy: 'socks5://proxy.internal:1080' }, /HTTP_PROXY must be an http\(s\) URL of a proxy/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, TRUST_PROXY: 'loopback, 10.0.0.0/33' }, /TRUST_PROXY entries must be .* got "10.0.0.0\/33"/],
    [{ JWT_SECRET: secret, ENCRYPTION_KEY: key, TRUST_PROXY: 'load-balancer' }, /got "load-balancer"/],
    [{ DATA_DIR: '/dev/null/data' }, /DATA_DIR \/dev\/null\/data cannot be created \(ENOTDIR\): set DATA_DIR to a writable folder/],
    // procfs answers ENOENT for a folder it cannot hold: Node's recursive mkdirSync spun on it forever
    [{ DATA_DIR: '/proc/mpd-data/pg' }, /DATA_DIR \/proc\/mpd-data\/pg cannot be created \(ENOENT\): set DATA_DIR to a writable folder/],
  ])('rejects %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('takes both spellings of a PostgreSQL URL, every pino level, and true/false or 1/0', () => {
    for (const url of ['postgres://u@h/db', 'postgresql://u:p@h:5433/db?sslmode=require']) {
      expect(loadConfig({ JWT_SECRET: secret, ENCRYPTION_KEY: key, DATABASE_URL: url }).databaseUrl).toBe(url);
    }
    expect(loadConfig({ JWT_SECRET: secret, ENCRYPTION_KEY: key, LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expect(loadConfig({ JWT_SECRET: secret, ENCRYPTION_KEY: key, WORKERS_IN_PROCESS: '0' }).workersInProcess).toBe(false);
    expect(loadConfig({ JWT_SECRET: secret, ENCRYPTION_KEY: key, WORKERS_IN_PROCESS: 'false' }).workersInProcess).toBe(false);
    expect(loadConfig({ JWT_SECRET: secret, ENCRYPTION_KEY: key }).workersInProcess).toBe(true);
    expect(loadConfig({ JWT_SECRET: secret, ENCRYPTION_KEY: key, CORS_ORIGINS: 'https://ui.example.com, http://localhost:3000' }).corsOrigins).toEqual(['https://ui.example.com', 'http://localhost:3000']);
    expect(loadConfig({ JWT_SECRET: secret, ENCRYPTION_KEY: key, MIXPANEL_IN_URL: 'http://127.0.0.1:8090/' }).mixpanelBaseUrls.in).toBe('http://127.0.0.1:8090/');
  });

  it('reads TRUST_PROXY as a list of addresses, subnets and presets, a number of hops, or true/false; keeps connections 65 s', () => {
    const trust = (v?: string) => loadConfig({ JWT_SECRET: secret, ENCRYPTION_KEY: key, ...(v === undefined ? {} : { TRUST_PROXY: v }) }).trustProxy;
    expect(trust()).toEqual(['loopback']);
    expect(loadConfig({ JWT_SECRET: secret, ENCRYPTION_KEY: key }).httpKeepAliveTimeoutMs).toBe(65_000);
    expect(trust('loopback, 10.0.0.0/8, 192.0.2.1, fd00::/8, uniquelocal')).toEqual(['loopback', '10.0.0.0/8', '192.0.2.1', 'fd00::/8', 'uniquelocal']);
    expect(trust('2')).toBe(2);
    expect(trust('false')).toBe(false);
    expect(trust('true')).toBe(true);
  });

  it('reads the egress proxy in either case (lower case first, as Node and curl do), and shows it without its credentials', () => {
    expect(loadConfig({ JWT_SECRET: secret, ENCRYPTION_KEY: key }).mixpanelProxy).toEqual({});
    const proxy = loadConfig({
      JWT_SECRET: secret,
      ENCRYPTION_KEY: key,
      HTTPS_PROXY: 'http://upper:3128',
      https_proxy: 'http://user:pa55@lower:3128',
      HTTP_PROXY: 'http://plain:3128',
      no_proxy: 'localhost,.internal',
    }).mixpanelProxy;
    expect(proxy).toEqual({ HTTPS_PROXY: 'http://user:pa55@lower:3128', HTTP_PROXY: 'http://plain:3128', NO_PROXY: 'localhost,.internal' });
    expect(describeProxy(proxy.HTTPS_PROXY!)).toBe('http://lower:3128');
  });

  it('generates development secrets once and reuses them', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mpd-cfg-'));
    const first = loadConfig({ DATA_DIR: dir });
    expect(first.notices[0]).toContain('generated');
    const second = loadConfig({ DATA_DIR: dir });
    expect(second.notices).toEqual([]);
    expect(second.jwtSecret).toBe(first.jwtSecret);
    expect(second.encryptionKeys[0].key.equals(first.encryptionKeys[0].key)).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});
