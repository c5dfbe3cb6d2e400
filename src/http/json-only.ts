import type { NextFunction, Request, Response } from 'express';
import { sendError } from './error-handler.js';

/** Bodies must be JSON: anything else is refused with 415 before it is parsed. */
export function jsonOnly(req: Request, res: Response, next: NextFunction) {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.is('application/json')) {
    return sendError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json');
  }
  next();
}
