import type { NextFunction, Request, Response } from 'express';
import { ValidationError } from '../errors.js';
import { textProblem } from '../shared/storable-text.js';

const unstorable = (s: string) => textProblem(s) !== undefined;

/**
 * The path (`body.config.project_token`, `query.resource_id`, …) of the first string, key included,
 * that PostgreSQL could not store, or undefined. Iterative, so no nesting depth can overflow the stack.
 */
export function firstUnstorable(root: unknown, rootPath: string): string | undefined {
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length > 0) {
    const [value, at] = stack.pop()!;
    if (typeof value === 'string') {
      if (unstorable(value)) return at;
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], `${at}[${i}]`]);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (unstorable(k)) return `${at}.${k.toWellFormed().replaceAll('\u0000', '\ufffd')}`;
        stack.push([v, `${at}.${k}`]);
      }
    }
  }
  return undefined;
}

interface OpenApiRequest extends Request {
  openapi?: { pathParams?: Record<string, string> };
}

/**
 * Refuses (400, naming the field) a Management API request whose path, query or body holds text
 * PostgreSQL would refuse. (Ingested events are checked one by one, each refused with its own reason.)
 */
export function storableText(req: Request, _res: Response, next: NextFunction): void {
  const at =
    firstUnstorable((req as OpenApiRequest).openapi?.pathParams ?? {}, 'path') ??
    firstUnstorable(req.query, 'query') ??
    firstUnstorable(req.body, 'body');
  if (!at) return next();
  next(new ValidationError(`${at}: holds a NUL character or invalid Unicode (an unpaired surrogate)`, [{ path: at, message: 'holds a NUL character or invalid Unicode (an unpaired surrogate)' }]));
}
