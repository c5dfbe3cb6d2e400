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
  return isInfrastructureError(err) && !/^(40001|40P01)/.test(String((err as { code?: string } | undefined)?.code ?? ''));
}
