import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EncryptionKeySetting } from '../config.js';

/** What is stored for one secret: never the plain text. */
export interface SealedSecret {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export class SecretDecryptionError extends Error {
  override name = 'SecretDecryptionError';
}

/**
 * AES-256-GCM with a random 96-bit nonce per encryption. The associated data binds a ciphertext to
 * the row it belongs to (org, integration, field), so a ciphertext copied elsewhere fails to open.
 * Several keys may be known (rotation); the first one seals.
 */
export class SecretBox {
  private readonly keys: Map<string, Buffer>;
  readonly currentKeyId: string;

  constructor(keys: EncryptionKeySetting[]) {
    if (keys.length === 0) throw new Error('SecretBox needs at least one key');
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
    this.currentKeyId = keys[0].id;
  }

  seal(plain: string, associatedData: string): SealedSecret {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKeyId)!, nonce);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return { keyId: this.currentKeyId, nonce, ciphertext, tag: cipher.getAuthTag() };
  }

  open(sealed: SealedSecret, associatedData: string): string {
    const key = this.keys.get(sealed.keyId);
    if (!key) throw new SecretDecryptionError(`encryption key "${sealed.keyId}" is not configured`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.nonce);
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(sealed.tag);
      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretDecryptionError('secret could not be decrypted (wrong key or tampered data)');
    }
  }

  knows(keyId: string): boolean {
    return this.keys.has(keyId);
  }
}

/** The associated data of an integration secret: its org, integration and field. */
export function secretContext(orgId: string, integrationId: string, field: string): string {
  return `org:${orgId}|integration:${integrationId}|field:${field}`;
}
