import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isDomainError, type ErrorKind } from '../../domain/errors.js';
import type { Logger } from '../../lifecycle/logger.js';
import { requestLogger } from './request-log.js';
import type { ErrorBody } from '../schemas/responses.js';

/** The one table from the domain's error kinds to HTTP statuses. */
const STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  internal: 500,
};

/** Every error answer (its schema is in schemas/responses.ts, and so in the OpenAPI document). */
export type { ErrorBody };

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** body-parser's own errors (malformed JSON, too large, bad charset) carry `type` and `status`. */
function fromBodyParser(error: unknown): HttpError | undefined {
  const e = error as { type?: string; status?: number } | null;
  if (typeof e?.type !== 'string' || typeof e.status !== 'number') return undefined;
  switch (e.type) {
    case 'entity.parse.failed':
      return new HttpError(400, 'invalid_json', 'The request body is not valid JSON');
    case 'entity.too.large':
      return new HttpError(413, 'body_too_large', 'The request body is larger than 64 KiB');
    default:
      return e.status >= 400 && e.status < 500 ? new HttpError(e.status, 'invalid_body', 'The request body cannot be read') : undefined;
  }
}

/** The router's own 400: a path parameter that is not valid percent-encoding (`/v1/containers/%zz`). */
function fromRouter(error: unknown): HttpError | undefined {
  return error instanceof URIError && (error as { status?: number }).status === 400
    ? new HttpError(400, 'invalid_path', 'The request path is not valid percent-encoding')
    : undefined;
}

export function errorHandler(logger: Logger, options: { exposeDetails: boolean }): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const log = requestLogger(req, logger);
    let status = 500;
    let body: ErrorBody = { message: 'Internal server error', code: 'internal' };
    const parserError = fromBodyParser(error) ?? fromRouter(error);
    if (error instanceof HttpError || parserError) {
      const e = (parserError ?? error) as HttpError;
      status = e.status;
      body = { message: e.message, code: e.code };
    } else if (isDomainError(error)) {
      status = STATUS[error.kind];
      const hide = error.kind === 'internal' && !options.exposeDetails;
      body = { message: hide ? 'Internal server error' : error.message, code: error.code };
    }
    if (status >= 500) log.error({ err: error, status }, 'request failed');
    else log.debug({ status, code: body.code }, 'request refused');
    if (status === 503) res.set('Retry-After', '5');
    res.status(status).json(body);
  };
}

export const notFoundRoute: RequestHandler = (req) => {
  throw new HttpError(404, 'route_not_found', `No route for ${req.method} ${req.path}`);
};

/** A known path with a method it does not serve. */
export function methodNotAllowed(allowed: string[]): RequestHandler {
  return (req, res) => {
    res.set('Allow', allowed.join(', '));
    throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed here; use ${allowed.join(' or ')}`);
  };
}
