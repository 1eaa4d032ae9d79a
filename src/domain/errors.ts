/**
 * The closed set of things that can go wrong, independent of HTTP, Docker or BullMQ.
 * Each boundary translates once: Docker/Redis failures into kinds (adapters), kinds into
 * HTTP statuses (api/middleware/errors.ts) and into retry decisions (worker).
 */
export type ErrorKind = 'invalid' | 'forbidden' | 'not_found' | 'conflict' | 'unavailable' | 'internal';

export class DomainError extends Error {
  override name = 'DomainError';

  constructor(
    readonly kind: ErrorKind,
    /** Stable snake_case identifier clients may branch on. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const invalid = (code: string, message: string) => new DomainError('invalid', code, message);
export const forbidden = (code: string, message: string) => new DomainError('forbidden', code, message);
export const notFound = (code: string, message: string) => new DomainError('not_found', code, message);
export const conflict = (code: string, message: string) => new DomainError('conflict', code, message);
export const unavailable = (code: string, message: string, cause?: unknown) =>
  new DomainError('unavailable', code, message, { cause });

export const isDomainError = (error: unknown): error is DomainError => error instanceof DomainError;

/** Transient failures are worth retrying; the rest will fail the same way again. */
export const isTransient = (error: unknown): boolean => isDomainError(error) && error.kind === 'unavailable';
