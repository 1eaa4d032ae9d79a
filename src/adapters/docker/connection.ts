import Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDomainError } from '../../domain/errors.js';
import { translateDockerError } from './errors.js';

/**
 * Builds a Dockerode client from a DOCKER_HOST value (unix://, tcp://, http(s)://). With `certPath`
 * (DOCKER_CERT_PATH: a folder holding ca.pem, cert.pem and key.pem, as the docker CLI's), a tcp:// engine is
 * reached over TLS, its certificate verified against ca.pem and ours shown: an engine's API on a network is
 * root on its host. Only what is given counts: docker-modem fills what is not from the process's DOCKER_HOST
 * and DOCKER_CERT_PATH, and its host beats a socket (a node's socket client then talked to the manager), so
 * every field is set here.
 */
export function createDockerClient(dockerHost: string, certPath?: string): Docker {
  const none = { host: undefined, port: undefined, socketPath: undefined, ca: undefined, cert: undefined, key: undefined };
  if (dockerHost.startsWith('unix://')) return new Docker({ ...none, protocol: 'http', socketPath: dockerHost.slice('unix://'.length) });
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  const tls = certPath !== undefined || url.protocol === 'https:';
  return new Docker({
    ...none,
    protocol: tls ? 'https' : 'http',
    host: url.hostname,
    port: Number(url.port || (tls ? 2376 : 2375)),
    ...(certPath === undefined
      ? {}
      : { ca: readFileSync(join(certPath, 'ca.pem')), cert: readFileSync(join(certPath, 'cert.pem')), key: readFileSync(join(certPath, 'key.pem')) }),
  });
}

/** The engine did not answer in time. */
export class DeadlineError extends Error {
  override name = 'DeadlineError';
  readonly code = 'ETIMEDOUT';
  constructor(ms?: number) {
    super(ms === undefined ? 'The Docker engine did not answer in time' : `The Docker engine did not answer within ${ms / 1000} s`);
  }
}

export interface ConnectionOptions {
  /** Milliseconds any one engine call may take (a stop gets its own stop timeout on top). */
  readonly timeoutMs: number;
  /** Told of every engine call's duration, by operation (for metrics: a bounded set of names). */
  readonly onCall?: (operation: string, seconds: number, ok: boolean) => void;
}

/**
 * The one connection to the engine, with deadlines: every call the adapter makes goes through `call`, so a hung
 * engine is an unavailable one, never a request that hangs, and every failure is translated once.
 */
export class EngineConnection {
  /** What the last call found: whether the engine answered, and when. */
  private lastSeen: { answering: boolean; at: number } | undefined;
  private pinging: Promise<boolean> | undefined;

  constructor(
    readonly docker: Docker,
    readonly options: ConnectionOptions,
  ) {}

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /**
   * One engine call with a deadline (`timeoutMs`, plus `extraMs` for calls that wait on purpose); whatever it
   * throws is translated, and a missed deadline counts as the engine being unavailable. The request is
   * dropped at the deadline, so a hung engine holds no socket of ours. `operation` names the call for the
   * metrics (never a variable part such as an image reference); `action` says what was being done, in errors.
   */
  async call<T>(
    operation: string,
    fn: (abortSignal: AbortSignal) => Promise<T>,
    options: { extraMs?: number; timeoutMs?: number; action?: string } = {},
  ): Promise<T> {
    const deadline = (options.timeoutMs ?? this.options.timeoutMs) + (options.extraMs ?? 0);
    const signal = AbortSignal.timeout(deadline);
    // Should a call ever ignore its signal, the caller is still answered at the deadline.
    const late = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new DeadlineError(deadline)), { once: true }));
    // The timer fires whether or not the call is done by then; that late rejection is nobody's business.
    late.catch(() => undefined);
    const started = performance.now();
    let ok = false;
    try {
      const result = await Promise.race([fn(signal), late]);
      ok = true;
      this.lastSeen = { answering: true, at: Date.now() };
      return result;
    } catch (error) {
      // Dropped by the caller's own signal (its client went away), not by the deadline: nothing to say of the engine.
      if (isAbort(error) && !signal.aborted) throw error;
      const translated = translateDockerError(isAbort(error) ? new DeadlineError(deadline) : error, options.action ?? operation);
      // A 404 or a 409 is an answer; only an engine that cannot be reached or does not answer in time is down.
      this.lastSeen = { answering: !(isDomainError(translated) && translated.code === 'docker_unavailable'), at: Date.now() };
      throw translated;
    } finally {
      this.options.onCall?.(operation, (performance.now() - started) / 1000, ok);
    }
  }

  /**
   * Whether the engine answers, from what this process's own calls found within `freshMs`; else one ping
   * (shared by every caller meanwhile). A health check then costs no engine call while the process is busy,
   * and at most one per `freshMs` while it is not, however often it is asked.
   */
  answering(freshMs: number, timeoutMs = this.options.timeoutMs): Promise<boolean> {
    const seen = this.lastSeen;
    if (seen !== undefined && Date.now() - seen.at < freshMs) return Promise.resolve(seen.answering);
    this.pinging ??= this.ping(timeoutMs).finally(() => {
      this.pinging = undefined;
    });
    return this.pinging;
  }

  /** A GET of the Engine API with a signal (dockerode does not pass one on for image and network inspects). */
  get<T>(path: string, what: string, abortSignal: AbortSignal): Promise<T> {
    const modem = this.docker.modem as { dial(options: object, callback: (error: unknown, data: unknown) => void): void };
    return new Promise((resolve, reject) => {
      modem.dial({ path, method: 'GET', abortSignal, statusCodes: { 200: true, 404: `no such ${what}`, 500: 'server error' } }, (error, data) =>
        error ? reject(error as Error) : resolve(data as T),
      );
    });
  }

  /** Whether the engine answers a ping within the deadline (the request is dropped when it does not). */
  async ping(timeoutMs = this.options.timeoutMs): Promise<boolean> {
    try {
      await this.call('ping', (abortSignal) => this.docker.ping(withSignal(abortSignal)) as unknown as Promise<unknown>, { timeoutMs });
      return true;
    } catch {
      return false;
    }
  }

  /** The subnets of Docker's default bridge (containers made before SD_NETWORK, or with SD_NETWORK=bridge). */
  async bridgeSubnets(): Promise<string[]> {
    const network = await this.call('inspect the bridge', (abortSignal) => this.get<unknown>('/networks/bridge', 'network', abortSignal));
    const configs = (network as { IPAM?: { Config?: { Subnet?: string }[] } }).IPAM?.Config ?? [];
    return configs.flatMap((c) => (c.Subnet === undefined ? [] : [c.Subnet]));
  }
}

/** '172.17.0.0/16' → '172.17.0.1': Docker gives a bridge's gateway the first host address when none is set. */
export function firstHost(subnet: string): string | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(subnet);
  if (match === null) return undefined;
  const [a, b, c, d, bits] = match.slice(1).map(Number) as [number, number, number, number, number];
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  const host = ((((a << 24) | (b << 16) | (c << 8) | d) & mask) >>> 0) + 1;
  return [host >>> 24, (host >>> 16) & 255, (host >>> 8) & 255, host & 255].join('.');
}

/** dockerode honours `abortSignal` on every call, though its typings do not say so on all of them. */
export function withSignal(abortSignal: AbortSignal): never {
  return { abortSignal } as never;
}

function isAbort(error: unknown): boolean {
  const name = (error as Error | null)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}
