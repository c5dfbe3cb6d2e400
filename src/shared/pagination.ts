import type { Knex } from 'knex';
import { ValidationError } from '../errors.js';

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
  has_more: boolean;
}

export interface PageRequest {
  cursor?: string;
  limit?: number;
}

interface CursorPosition {
  at: string;
  id: string | number;
}

/** How the id column is typed: a cursor's id must be one PostgreSQL can compare with it. */
export type IdType = 'uuid' | 'bigint';

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function validId(id: unknown, type: IdType): boolean {
  if (type === 'uuid') return typeof id === 'string' && UUID.test(id);
  return (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) || (typeof id === 'string' && /^\d{1,15}$/.test(id));
}

/**
 * A cursor this API handed out: `at` an ISO instant PostgreSQL reads the same way (the form we write,
 * years 1970–9999), `id` of the column's type. Anything else is the caller's mistake (400), never a
 * query PostgreSQL would refuse.
 */
function decodeCursor(cursor: string, idType: IdType): CursorPosition {
  const invalid = () => new ValidationError('cursor is not valid', [{ path: 'query.cursor', message: 'is not a cursor from this API' }]);
  let parsed: Partial<CursorPosition>;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorPosition>;
  } catch {
    throw invalid();
  }
  if (!parsed || typeof parsed !== 'object' || typeof parsed.at !== 'string' || !ISO_INSTANT.test(parsed.at)) throw invalid();
  const ms = Date.parse(parsed.at);
  if (Number.isNaN(ms) || ms < 0 || new Date(ms).toISOString().slice(0, 19) !== parsed.at.slice(0, 19)) throw invalid();
  if (!validId(parsed.id, idType)) throw invalid();
  return { at: parsed.at, id: parsed.id as string | number };
}

/** The column paginate adds to the query's own: the row's time to the microsecond, as the cursor holds it. */
const CURSOR_AT = 'cursor_at__';

/**
 * Keyset pagination, newest first, on (timeColumn, idColumn). One more row than asked is read to know
 * whether another page exists. The query selects its own columns; the cursor's time is read to the
 * microsecond beside them (a JavaScript Date keeps milliseconds: a cursor made from one skipped the
 * rows written later in the same millisecond than the page's last row).
 */
export async function paginate<Row extends Record<string, unknown>, T>(
  query: Knex.QueryBuilder,
  page: PageRequest,
  columns: { time: string; id: string; idType?: IdType },
  toItem: (row: Row) => T,
): Promise<Page<T>> {
  const limit = Math.min(Math.max(page.limit ?? 50, 1), 100);
  if (page.cursor) {
    const pos = decodeCursor(page.cursor, columns.idType ?? 'uuid');
    query.whereRaw(`(??, ??) < (?::timestamptz, ?)`, [columns.time, columns.id, pos.at, pos.id]);
  }
  query.select(query.client.raw(`to_char(?? AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ??`, [columns.time, CURSOR_AT]));
  const rows = (await query.orderBy([
    { column: columns.time, order: 'desc' },
    { column: columns.id, order: 'desc' },
  ]).limit(limit + 1)) as Row[];
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  const idKey = columns.id.split('.').pop() as string;
  const nextCursor = hasMore && last ? Buffer.from(JSON.stringify({ at: last[CURSOR_AT], id: last[idKey] })).toString('base64url') : null;
  return { data: pageRows.map(toItem), next_cursor: nextCursor, has_more: hasMore };
}
