/**
 * The closed set of things that can go wrong, independent of HTTP, Docker or BullMQ.
 * Each boundary translates once: Docker/Redis failures into kinds (adapters), kinds into
 * HTTP statuses (api/middleware/errors.ts) and into retry decisions (worker/job-workers.ts).
 */
export type ErrorKind =
  /** The caller sent something that can never work as sent. */
  | 'invalid'
  /** A request larger than the server takes. */
  | 'too_large'
  /** Not allowed for this caller. */
  | 'forbidden'
  | 'not_found'
  /** A known resource that does not take this method. */
  | 'method_not_allowed'
  /** The current state does not allow it. */
  | 'conflict'
  /** Too many attempts: try again later (`retryAfterSeconds`). */
  | 'rate_limited'
  /** Something the server needs (Docker, Redis, a free port) is not there right now. */
  | 'unavailable'
  | 'internal';

export class DomainError extends Error {
  override name = 'DomainError';

  constructor(
    readonly kind: ErrorKind,
    /** Stable snake_case identifier clients may branch on. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number; allow?: readonly string[] },
  ) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.allow = options?.allow;
  }

  /** For `rate_limited` and `unavailable`: when to try again. */
  readonly retryAfterSeconds: number | undefined;
  /** For `method_not_allowed`: the methods that are. */
  readonly allow: readonly string[] | undefined;
}

export const invalid = (code: string, message: string) => new DomainError('invalid', code, message);
export const forbidden = (code: string, message: string) => new DomainError('forbidden', code, message);
export const notFound = (code: string, message: string) => new DomainError('not_found', code, message);
export const conflict = (code: string, message: string) => new DomainError('conflict', code, message);
export const unavailable = (code: string, message: string, cause?: unknown) => new DomainError('unavailable', code, message, { cause });

/** A host port that something else holds already (the engine could not bind it). */
export class PortTakenError extends DomainError {
  constructor(
    readonly port: number,
    message: string,
    cause?: unknown,
  ) {
    super('unavailable', 'port_taken', message, { cause });
  }
}

export const isDomainError = (error: unknown): error is DomainError => error instanceof DomainError;

/** Transient failures are worth retrying; the rest will fail the same way again. */
export const isTransient = (error: unknown): boolean => isDomainError(error) && error.kind === 'unavailable';
