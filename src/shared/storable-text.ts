/**
 * Why PostgreSQL could not store this text (in a text or jsonb column), or undefined: it refuses NUL
 * characters and unpaired UTF-16 surrogates. One rule for the Management API's fields and for events.
 */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'holds a NUL character';
  if (!s.isWellFormed()) return 'holds invalid Unicode (an unpaired surrogate)';
  return undefined;
}
