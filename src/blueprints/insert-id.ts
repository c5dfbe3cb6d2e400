import { createHash } from 'node:crypto';

const VALID = /^[A-Za-z0-9-]{1,36}$/;

/**
 * A deterministic `$insert_id` (≤ 36 chars of [A-Za-z0-9-]) for one Mixpanel event made from a
 * canonical event. The main event uses the messageId itself when it fits; every other event made
 * from the same message (a `$identify`, one `Product Purchased` per item) gets a hash of the
 * messageId and its role, so each is distinct and a retry produces the same id again.
 */
export function insertId(messageId: string, role = ''): string {
  if (role === '' && VALID.test(messageId)) return messageId;
  return createHash('sha256').update(role === '' ? messageId : `${messageId}|${role}`).digest('hex').slice(0, 32);
}
