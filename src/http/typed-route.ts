import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { operations } from '../generated/api.js';

type Operation = keyof operations;
type Parameters<K extends Operation> = operations[K]['parameters'];
type PathOf<K extends Operation> = Parameters<K> extends { path: infer P } ? (P extends Record<string, unknown> ? P : Record<string, never>) : Record<string, never>;
type QueryOf<K extends Operation> = Parameters<K> extends { query?: infer Q } ? (Q extends Record<string, unknown> ? Q : Record<string, never>) : Record<string, never>;
type BodyOf<K extends Operation> = operations[K] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

/** A request of one operation of openapi.yaml, as the contract (generated types) describes it. */
export type TypedRequest<K extends Operation> = Request<PathOf<K>, unknown, BodyOf<K>, QueryOf<K>>;

/**
 * A route handler for the operation `operationId`, with its path parameters, query and body typed from
 * the generated contract. The cast is made here, once: express-openapi-validator has checked (and
 * coerced) every request against that operation before any handler runs.
 */
export function typed<K extends Operation>(
  _operationId: K,
  handler: (req: TypedRequest<K>, res: Response, next: NextFunction) => unknown,
): RequestHandler {
  return handler as unknown as RequestHandler;
}
