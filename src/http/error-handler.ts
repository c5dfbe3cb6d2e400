import type { NextFunction, Request, Response } from 'express';
import { AppError, RetryLaterError } from '../errors.js';
import { databaseTrouble, isInfrastructureError } from '../shared/infrastructure-errors.js';
import type { Logger } from '../logger.js';

interface ValidatorErrorItem {
  path?: string;
  message?: string;
}

interface HttpLikeError {
  status?: number;
  statusCode?: number;
  type?: string;
  errors?: ValidatorErrorItem[];
  message?: string;
  /** body-parser's: the body it could not take. */
  body?: unknown;
}

/**
 * Why body-parser refused a body: not JSON at all, or JSON that is not an object (or array): it refuses
 * a body that does not start with `{` or `[` unread, so only such a body is parsed here.
 */
function parseFailure(body: unknown): string {
  if (typeof body !== 'string' || /^\s*[{[]/.test(body)) return 'The request body is not valid JSON';
  try {
    JSON.parse(body);
    return 'The request body must be a JSON object';
  } catch {
    return 'The request body is not valid JSON';
  }
}

export function sendError(res: Response, status: number, code: string, message: string, details?: unknown, requestId?: string): void {
  const error: Record<string, unknown> = { code, message };
  if (details !== undefined) error.details = details;
  if (requestId !== undefined) error.request_id = requestId;
  res.status(status).json({ error });
}

function validatorDetails(errors: ValidatorErrorItem[]): { path: string; message: string }[] {
  return errors.map((e) => ({
    path: (e.path ?? '').replace(/^\//, '').replace(/^(request\/)?/, '').replace(/\//g, '.'),
    message: e.message ?? 'is invalid',
  }));
}

/** Seconds a client should wait before trying again when the database is busy. */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/**
 * Maps every error (domain, validator, body parser) to `{"error": {code, message}}`. An answer the
 * contract does not document (the response validator throws while sending it) is logged and sent as
 * a 500 in the same shape, past the validator, so even that failure is a clear error and not HTML.
 */
export function errorHandler(logger: Logger) {
  const handle = mapError(logger);
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    try {
      handle(err, req, res, next);
    } catch (sendErr) {
      logger.error({ err: sendErr, cause: err, request_id: req.id, path: req.originalUrl.split('?')[0] }, 'error answer does not match the API contract');
      if (res.headersSent) return;
      const message = `Response does not match the API contract: ${(sendErr as Error).message}`;
      res.status(500).type('application/json').send(JSON.stringify({ error: { code: 'INTERNAL', message, request_id: req.id } }));
    }
  };
}

function mapError(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (isInfrastructureError(err)) {
      res.set('Retry-After', String(BUSY_RETRY_AFTER_SECONDS));
      return sendError(res, 503, 'SERVICE_UNAVAILABLE', `The database ${databaseTrouble(err)}; retry shortly`);
    }
    if (err instanceof AppError) {
      if (err instanceof RetryLaterError) res.set('Retry-After', String(err.retryAfterSeconds));
      return sendError(res, err.status, err.code, err.message, err.details);
    }
    const e = (err ?? {}) as HttpLikeError;
    const status = e.status ?? e.statusCode ?? 500;
    if (e.type === 'entity.too.large' || status === 413) {
      return sendError(res, 413, 'PAYLOAD_TOO_LARGE', 'The request body is too large');
    }
    if (e.type === 'entity.parse.failed') return sendError(res, 400, 'VALIDATION_ERROR', parseFailure(e.body));
    if (status === 404) return sendError(res, 404, 'NOT_FOUND', `No route for ${req.method} ${req.path}`);
    if (status === 405) return sendError(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}`);
    if (status === 415) return sendError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send application/json');
    if (status === 400 && Array.isArray(e.errors)) {
      const details = validatorDetails(e.errors);
      const summary = details.map((d) => `${d.path}: ${d.message}`).join('; ');
      return sendError(res, 400, 'VALIDATION_ERROR', summary || 'The request is invalid', details);
    }
    if (status >= 400 && status < 500) return sendError(res, status, 'BAD_REQUEST', e.message ?? 'Bad request');
    logger.error({ err, request_id: req.id, method: req.method, path: req.originalUrl.split('?')[0] }, 'unhandled error');
    const message = Array.isArray(e.errors) ? `Response does not match the API contract: ${e.message}` : 'Internal server error';
    // The id finds the log line above; nothing else about the failure leaves the server.
    return sendError(res, 500, 'INTERNAL', message, undefined, req.id);
  };
}
