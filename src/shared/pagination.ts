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

function decodeCursor(cursor: string): CursorPosition {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorPosition;
    if (typeof parsed.at !== 'string' || Number.isNaN(Date.parse(parsed.at))) throw new Error('bad');
    if (typeof parsed.id !== 'string' && typeof parsed.id !== 'number') throw new Error('bad');
    return parsed;
  } catch {
    throw new ValidationError('cursor is not valid', [{ path: 'query.cursor', message: 'is not a cursor from this API' }]);
  }
}

/**
 * Keyset pagination, newest first, on (timeColumn, idColumn). One more row than asked is read to know
 * whether another page exists.
 */
export async function paginate<Row extends Record<string, unknown>, T>(
  query: Knex.QueryBuilder,
  page: PageRequest,
  columns: { time: string; id: string },
  toItem: (row: Row) => T,
): Promise<Page<T>> {
  const limit = Math.min(Math.max(page.limit ?? 50, 1), 100);
  if (page.cursor) {
    const pos = decodeCursor(page.cursor);
    query.whereRaw(`(??, ??) < (?::timestamptz, ?)`, [columns.time, columns.id, pos.at, pos.id]);
  }
  const rows = (await query.orderBy([
    { column: columns.time, order: 'desc' },
    { column: columns.id, order: 'desc' },
  ]).limit(limit + 1)) as Row[];
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  const timeKey = columns.time.split('.').pop() as string;
  const idKey = columns.id.split('.').pop() as string;
  const nextCursor =
    hasMore && last
      ? Buffer.from(JSON.stringify({ at: (last[timeKey] as Date).toISOString(), id: last[idKey] })).toString('base64url')
      : null;
  return { data: pageRows.map(toItem), next_cursor: nextCursor, has_more: hasMore };
}
