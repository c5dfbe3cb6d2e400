import { InvalidTokenError, RateLimitedError } from '../errors.js';
import { hashKey } from './ingest-key-store.js';
import { IngestKeyAuth } from './ingest-key-auth.js';

/** A key store in memory: one active key; counts lookups. */
function store() {
  const active = new Map([[hashKey('dk_live_good'), { id: 'k1', orgId: 'acme' }]]);
  const calls = { lookups: 0, touched: [] as string[][] };
  return {
    calls,
    keys: {
      orgOf: async (hash: string) => {
        calls.lookups++;
        return active.get(hash);
      },
      revokedWithin: async () => [],
      touchAll: async (ids: string[]) => void calls.touched.push(ids),
    },
  };
}

describe('IngestKeyAuth', () => {
  it('reports a client reaching the limit of unknown keys once, then refuses it lookups', async () => {
    const { keys, calls } = store();
    const warnings: { fields: Record<string, unknown>; message: string }[] = [];
    const auth = new IngestKeyAuth(keys, { revocationCheckMs: 5000, failuresPerMinute: 2, logger: { warn: (fields: Record<string, unknown>, message: string) => void warnings.push({ fields, message }) } as never });
    await expect(auth.authenticate('dk_live_good', '2001:db8::9')).resolves.toBe('acme');
    await expect(auth.authenticate('dk_live_a', '2001:db8::1')).rejects.toBeInstanceOf(InvalidTokenError);
    expect(warnings).toEqual([]);
    await expect(auth.authenticate('dk_live_b', '2001:db8::2')).rejects.toBeInstanceOf(InvalidTokenError);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].fields).toEqual({ client: '2001:db8:0:0::/64', unknown_keys: 2 });
    expect(warnings[0].message).toContain('refused (429)');
    const refused = await auth.authenticate('dk_live_c', '2001:db8::3').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).retryAfterSeconds).toBeGreaterThanOrEqual(59);
    expect(calls.lookups).toBe(3); // the good key and two unknown ones; none for the refused one
    await expect(auth.authenticate('dk_live_good', '2001:db8::3')).resolves.toBe('acme'); // in use: cached
    expect(warnings).toHaveLength(1);
    await auth.flushLastUsed();
    expect(calls.touched).toEqual([['k1']]);
  });
});
