import type { NextFunction, Request, Response } from 'express';
import { ValidationError } from '../errors.js';
import { textProblem } from '../shared/storable-text.js';

/**
 * The first string, key included, that PostgreSQL could not store: its path (`body.config.project_token`,
 * `query.resource_id`, …) and why, or undefined. Iterative, so no nesting depth can overflow the stack.
 */
export function firstUnstorable(root: unknown, rootPath: string): { path: string; message: string } | undefined {
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length > 0) {
    const [value, at] = stack.pop()!;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) return { path: at, message: problem };
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], `${at}[${i}]`]);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        const problem = textProblem(k);
        if (problem) return { path: `${at}.${k.toWellFormed().replaceAll('\u0000', '\ufffd')}`, message: `its name ${problem}` };
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
  const found =
    firstUnstorable((req as OpenApiRequest).openapi?.pathParams ?? {}, 'path') ??
    firstUnstorable(req.query, 'query') ??
    firstUnstorable(req.body, 'body');
  if (!found) return next();
  next(new ValidationError(`${found.path}: ${found.message}`, [found]));
}
