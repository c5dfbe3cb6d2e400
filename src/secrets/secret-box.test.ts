import { randomBytes } from 'node:crypto';
import { SecretBox, SecretDecryptionError, secretContext } from './secret-box.js';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };

describe('SecretBox', () => {
  const ctx = secretContext('org-a', 'int-1', 'api_secret');

  it('round-trips and never stores the plain text', () => {
    const box = new SecretBox([k1]);
    const sealed = box.seal('super-secret-value', ctx);
    expect(sealed.keyId).toBe('k1');
    expect(sealed.nonce).toHaveLength(12);
    expect(sealed.ciphertext.toString('utf8')).not.toContain('super-secret');
    expect(box.open(sealed, ctx)).toBe('super-secret-value');
  });

  it('uses a fresh nonce each time', () => {
    const box = new SecretBox([k1]);
    expect(box.seal('x', ctx).nonce.equals(box.seal('x', ctx).nonce)).toBe(false);
  });

  it('refuses a ciphertext moved to another integration or org', () => {
    const box = new SecretBox([k1]);
    const sealed = box.seal('s', ctx);
    expect(() => box.open(sealed, secretContext('org-b', 'int-1', 'api_secret'))).toThrow(SecretDecryptionError);
    expect(() => box.open(sealed, secretContext('org-a', 'int-2', 'api_secret'))).toThrow(SecretDecryptionError);
  });

  it('refuses tampered ciphertext', () => {
    const box = new SecretBox([k1]);
    const sealed = box.seal('secret', ctx);
    sealed.ciphertext[0] ^= 1;
    expect(() => box.open(sealed, ctx)).toThrow(SecretDecryptionError);
  });

  it('opens secrets sealed under an older key after rotation, seals under the new one', () => {
    const old = new SecretBox([k1]).seal('s', ctx);
    const rotated = new SecretBox([k2, k1]);
    expect(rotated.open(old, ctx)).toBe('s');
    expect(rotated.seal('s', ctx).keyId).toBe('k2');
    expect(() => new SecretBox([k2]).open(old, ctx)).toThrow(/not configured/);
  });
});
