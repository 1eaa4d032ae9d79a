import { Redis } from 'ioredis';
import { DomainError } from '../../domain/errors.js';

/**
 * `api`: fails fast while Redis is away (a request gets a 503 at once rather than hanging).
 * `worker`: waits and retries for ever, as BullMQ's workers require.
 */
export type RedisRole = 'api' | 'worker';

export function createRedis(url: string, role: RedisRole): Redis {
  return new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: role === 'worker',
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    connectionName: `spin-docker-${role}`,
    // The API's commands issued in one turn of the event loop (concurrent requests' reads and check-ins) go out
    // in one write: a socket write is the largest single cost of a request here (bench scenario 10's profile). Not
    // the worker's: BullMQ's blocking commands run on copies of its connection.
    enableAutoPipelining: role === 'api',
  });
}

/**
 * Resolves once the connection is ready, or after `timeoutMs` whatever its state: a process starts either
 * way (the API then answers 503 until Redis comes), but does not turn its first requests away for nothing.
 */
export function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.once('ready', done);
  });
}

const REDIS_DOWN =
  /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|max retries per request|LOADING|MaxRetriesPerRequest|READONLY/i;

/** Connection-level Redis failures → `unavailable`; anything else stays as it was. */
export function translateRedisError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  const text = `${(error as Error | null)?.name ?? ''} ${(error as Error | null)?.message ?? ''} ${(error as { code?: string } | null)?.code ?? ''}`;
  if (REDIS_DOWN.test(text)) {
    return new DomainError('unavailable', 'redis_unavailable', 'The state store (Redis) is unavailable', { cause: error });
  }
  return error;
}

/** Runs a Redis call, translating connection failures. */
export async function redisCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw translateRedisError(error);
  }
}

/** A Lua script registered as a command of its own: EVALSHA afterwards, falling back to EVAL after a flush. */
export interface ScriptDefinition {
  readonly keys: number;
  readonly lua: string;
}

/** Registers `scripts` on a connection once (a connection shared by several stores registers each name once). */
export function defineScripts<T>(redis: Redis, scripts: Readonly<Record<string, ScriptDefinition>>): Redis & T {
  const commands = redis as unknown as Record<string, unknown>;
  for (const [name, { keys, lua }] of Object.entries(scripts)) {
    if (typeof commands[name] !== 'function') redis.defineCommand(name, { numberOfKeys: keys, lua });
  }
  return redis as Redis & T;
}
