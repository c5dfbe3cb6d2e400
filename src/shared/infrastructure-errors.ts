/**
 * A failure of the database or the network rather than of the work at hand: a full pool (no
 * connection within its wait), a connection refused, reset or lost, PostgreSQL out of resources or
 * shutting down, a serialisation failure or deadlock. A request answers it with 503 and Retry-After;
 * delivery leaves its jobs to come back (a failure of any other kind is the batch's own, and isolated).
 */
export function isInfrastructureError(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string } | undefined;
  const code = String(e?.code ?? '');
  return (
    e?.name === 'KnexTimeoutError' ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code) ||
    /^(08|53|57P|40001|40P01)/.test(code) || // connection, resources, shutdown, serialisation, deadlock
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(e?.message ?? '')
  );
}

/**
 * The database cannot be reached or has no connection to give (a full pool, refused, lost, out of
 * resources, shutting down): trying the same work again at once, or piece by piece, only waits again.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  return isInfrastructureError(err) && !isConflict(err);
}

/** A serialisation failure or deadlock: this transaction lost to another one; the database is fine. */
function isConflict(err: unknown): boolean {
  return /^(40001|40P01)/.test(String((err as { code?: string } | undefined)?.code ?? ''));
}

/** What is wrong, for a client's 503 and the log: "The database <this>". */
export function databaseTrouble(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string } | undefined;
  if (e?.name === 'KnexTimeoutError' || /timeout exceeded when trying to connect/.test(e?.message ?? '')) return 'gave no connection in time (all in use, or slow to connect)';
  if (isConflict(err)) return 'is busy (a conflicting transaction)';
  if (/^53/.test(String(e?.code ?? ''))) return 'is out of resources';
  return 'cannot be reached';
}
