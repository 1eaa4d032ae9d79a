import type { Redis } from 'ioredis';

/** What `GET /healthz` reports. `status` is about the API itself: it can serve while Redis answers. */
export interface HealthReport {
  readonly status: 'ok' | 'unavailable';
  readonly redis: 'ok' | 'down';
  readonly docker: 'ok' | 'down';
  /** Whether a worker has reported in within the last HEARTBEAT_TTL_MS. */
  readonly worker: 'ok' | 'missing' | 'unknown';
}

export const HEARTBEAT_EVERY_MS = 10_000;
export const HEARTBEAT_TTL_MS = 30_000;
export const heartbeatKey = (prefix: string) => `${prefix}worker:heartbeat`;

function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref())]);
}

const PROBE_MS = 2000;

/**
 * Asks Redis, Docker and the worker's heartbeat, each bounded to 2 s. `pingDocker` must drop its request at
 * the deadline, so that probing a hung engine leaves no socket behind.
 */
export function createHealthCheck(redis: Redis, pingDocker: (timeoutMs: number) => Promise<boolean>, prefix: string): () => Promise<HealthReport> {
  return async () => {
    const [heartbeat, engineUp] = await Promise.all([
      within(PROBE_MS, redis.get(heartbeatKey(prefix))).then(
        (value) => ({ up: true, value }),
        () => ({ up: false, value: null }),
      ),
      pingDocker(PROBE_MS),
    ]);
    const redisUp = heartbeat.up;
    return {
      status: redisUp ? 'ok' : 'unavailable',
      redis: redisUp ? 'ok' : 'down',
      docker: engineUp ? 'ok' : 'down',
      worker: !redisUp ? 'unknown' : heartbeat.value === null ? 'missing' : 'ok',
    };
  };
}

/** The worker's heartbeat: a key that expires unless it is written again; returns a stop function. */
export function startHeartbeat(redis: Redis, prefix: string): () => void {
  const beat = () => void redis.set(heartbeatKey(prefix), String(Date.now()), 'PX', HEARTBEAT_TTL_MS).catch(() => undefined);
  beat();
  const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    void redis.del(heartbeatKey(prefix)).catch(() => undefined);
  };
}
