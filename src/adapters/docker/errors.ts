import { DomainError, PortTakenError, type ErrorKind } from '../../domain/errors.js';

/** The engine's words for a host port it could not bind: another container holds it, or another process. */
/** What the engine says of a host port something else holds (a swarm task's error says the same). */
export const PORT_TAKEN = /Bind for [^ ]*:(\d+) failed: port is already allocated|listen (?:tcp|udp)[46]? [^ ]*:(\d+): bind: address already in use/;

/** Node network errors that mean "the engine is not there (right now)". */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EACCES', 'EAI_AGAIN']);

/** Docker's HTTP statuses → the domain's kinds (moby's errdefs, read backwards). */
const BY_STATUS: Readonly<Record<number, ErrorKind>> = {
  400: 'invalid',
  404: 'not_found',
  409: 'conflict',
  500: 'internal',
  503: 'unavailable',
};

interface DockerishError {
  statusCode?: number;
  code?: string;
  json?: { message?: string } | null;
  reason?: string;
  message?: string;
}

/** The status Docker answered with, if the error came from an answer at all (also once translated). */
export function dockerStatus(error: unknown): number | undefined {
  const original = error instanceof DomainError ? error.cause : error;
  const status = (original as DockerishError | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Translates whatever dockerode threw into a DomainError; `action` says what we were doing. */
export function translateDockerError(error: unknown, action: string): DomainError {
  if (error instanceof DomainError) return error;
  const e = (error ?? {}) as DockerishError;
  if (error instanceof Error && error.name === 'DeadlineError') {
    return new DomainError('unavailable', 'docker_unavailable', `${error.message} (trying to ${action})`, { cause: error });
  }
  if (e.code !== undefined && UNREACHABLE.has(e.code)) {
    return new DomainError('unavailable', 'docker_unavailable', 'The Docker engine is unreachable', { cause: error });
  }
  const status = dockerStatus(error);
  const detail = e.json?.message ?? e.reason ?? e.message ?? 'unknown error';
  const taken = PORT_TAKEN.exec(detail);
  if (taken !== null) return new PortTakenError(Number(taken[1] ?? taken[2]), `Docker could not ${action}: host port ${taken[1] ?? taken[2]} is taken`, error);
  const kind = status === undefined ? 'internal' : (BY_STATUS[status] ?? 'internal');
  return new DomainError(kind, `docker_${kind}`, `Docker could not ${action}: ${detail}`, { cause: error });
}
