import type { ErrorRequestHandler, RequestHandler } from 'express';
import { DomainError, isDomainError, type ErrorKind } from '../../domain/errors.js';
import type { Logger } from 'pino';
import { requestLogger } from './request-log.js';
import type { ErrorBody } from '../schemas/responses.js';

/** The one table from the domain's error kinds to HTTP statuses. */
const STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  too_large: 413,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

/** The HTTP status of an error kind (for the metrics and tests as well as the answers). */
export const statusOf = (kind: ErrorKind) => STATUS[kind];

/** Every error answer (its schema is in schemas/responses.ts, and so in the OpenAPI document). */
export type { ErrorBody };

/** body-parser's own errors (malformed JSON, too large, bad charset) carry `type` and `status`. */
function fromBodyParser(error: unknown): DomainError | undefined {
  const e = error as { type?: string; status?: number } | null;
  if (typeof e?.type !== 'string' || typeof e.status !== 'number') return undefined;
  switch (e.type) {
    case 'entity.parse.failed':
      return new DomainError('invalid', 'invalid_json', 'The request body is not valid JSON');
    case 'entity.too.large':
      return new DomainError('too_large', 'body_too_large', 'The request body is larger than 64 KiB');
    default:
      return e.status >= 400 && e.status < 500 ? new DomainError('invalid', 'invalid_body', 'The request body cannot be read') : undefined;
  }
}

/** The router's own 400: a path parameter that is not valid percent-encoding (`/v1/containers/%zz`). */
function fromRouter(error: unknown): DomainError | undefined {
  return error instanceof URIError && (error as { status?: number }).status === 400
    ? new DomainError('invalid', 'invalid_path', 'The request path is not valid percent-encoding')
    : undefined;
}

/** Whatever was thrown, as a domain error; anything unknown is the server's own fault. */
export function asDomainError(error: unknown): DomainError {
  if (isDomainError(error)) return error;
  return fromBodyParser(error) ?? fromRouter(error) ?? new DomainError('internal', 'internal', 'Internal server error', { cause: error });
}

export function errorHandler(logger: Logger, options: { exposeDetails: boolean }): ErrorRequestHandler {
  return (thrown: unknown, req, res, _next) => {
    const error = asDomainError(thrown);
    const status = STATUS[error.kind];
    const hide = error.kind === 'internal' && !options.exposeDetails;
    const body: ErrorBody = { message: hide ? 'Internal server error' : error.message, code: error.code };
    const log = requestLogger(req, logger);
    if (status >= 500) log.error({ err: thrown, status }, 'request failed');
    else log.debug({ status, code: body.code }, 'request refused');
    const retryAfter = error.retryAfterSeconds ?? (error.kind === 'unavailable' ? 5 : undefined);
    if (retryAfter !== undefined) res.set('Retry-After', String(retryAfter));
    if (error.allow !== undefined) res.set('Allow', error.allow.join(', '));
    res.status(status).json(body);
  };
}

export const notFoundRoute: RequestHandler = (req) => {
  throw new DomainError('not_found', 'route_not_found', `No route for ${req.method} ${req.path}`);
};

/** A known path with a method it does not serve. */
export function methodNotAllowed(allowed: string[]): RequestHandler {
  return (req) => {
    throw new DomainError('method_not_allowed', 'method_not_allowed', `${req.method} is not allowed here; use ${allowed.join(' or ')}`, { allow: allowed });
  };
}
