/** Domain errors: each knows its code and HTTP status, nothing else about HTTP. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super(400, 'VALIDATION_ERROR', message, details);
  }
}
export class InvalidTokenError extends AppError {
  constructor(message = 'A valid bearer token is required') {
    super(401, 'INVALID_TOKEN', message);
  }
}
export class ExpiredTokenError extends AppError {
  constructor() {
    super(401, 'EXPIRED_TOKEN', 'The access token has expired');
  }
}
export class ForbiddenError extends AppError {
  constructor(message = 'Your role does not allow this action') {
    super(403, 'FORBIDDEN', message);
  }
}
/** Not now: `retryAfterSeconds` is sent as Retry-After. */
export abstract class RetryLaterError extends AppError {
  constructor(
    status: number,
    code: string,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(status, code, message);
  }
}
/** Too many requests of some kind from one client. */
export class RateLimitedError extends RetryLaterError {
  constructor(message: string, retryAfterSeconds: number) {
    super(429, 'RATE_LIMITED', message, retryAfterSeconds);
  }
}
/** The service cannot take this now. */
export class ServiceBusyError extends RetryLaterError {
  constructor(message: string, retryAfterSeconds: number) {
    super(503, 'SERVICE_UNAVAILABLE', message, retryAfterSeconds);
  }
}
export class NotFoundError extends AppError {
  constructor(message = 'Not found') {
    super(404, 'NOT_FOUND', message);
  }
}
export class ConflictError extends AppError {
  constructor(message: string) {
    super(409, 'CONFLICT', message);
  }
}
/** A limit of how many of something one org may have is reached. */
export class LimitReachedError extends AppError {
  constructor(message: string) {
    super(409, 'LIMIT_REACHED', message);
  }
}
export class PreconditionFailedError extends AppError {
  constructor(message = 'The resource changed since you read it (If-Match does not match the current ETag)') {
    super(412, 'PRECONDITION_FAILED', message);
  }
}
