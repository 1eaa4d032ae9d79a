import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * What `GET /healthz` reports (and its OpenAPI schema). `status` is about the API itself: it can serve while
 * Redis answers.
 */
export const healthReport = z.object({
  status: z.enum(['ok', 'unavailable']),
  redis: z.enum(['ok', 'down']),
  docker: z.enum(['ok', 'down']),
  worker: z.enum(['ok', 'missing', 'unknown']).describe('Whether a worker has reported in within the last 30 s'),
  activity: z
    .enum(['observed', 'reported-only', 'unknown'])
    .describe('What the idle stop counts, as the worker last said: open connections too, or check-ins only'),
});
export type HealthReport = z.infer<typeof healthReport>;

export const HEARTBEAT_EVERY_MS = 10_000;
export const HEARTBEAT_TTL_MS = 30_000;
export const heartbeatKey = (prefix: string) => `${prefix}worker:heartbeat`;
export const activityModeKey = (prefix: string) => `${prefix}worker:activity`;

function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref())]);
}

const PROBE_MS = 2000;

/**
 * Asks Redis, Docker and the worker's heartbeat, each bounded to 2 s. `pingDocker` must drop its request at
 * the deadline, so that probing a hung engine leaves no socket behind.
 */
export function createHealthReport(redis: Redis, pingDocker: (timeoutMs: number) => Promise<boolean>, prefix: string): () => Promise<HealthReport> {
  return async () => {
    const [heartbeat, engineUp] = await Promise.all([
      within(PROBE_MS, redis.mget(heartbeatKey(prefix), activityModeKey(prefix))).then(
        ([value, activity]) => ({ up: true, value, activity }),
        () => ({ up: false, value: null, activity: null }),
      ),
      pingDocker(PROBE_MS),
    ]);
    const redisUp = heartbeat.up;
    return {
      status: redisUp ? 'ok' : 'unavailable',
      redis: redisUp ? 'ok' : 'down',
      docker: engineUp ? 'ok' : 'down',
      worker: !redisUp ? 'unknown' : heartbeat.value === null ? 'missing' : 'ok',
      activity: heartbeat.activity === 'observed' || heartbeat.activity === 'reported-only' ? heartbeat.activity : 'unknown',
    };
  };
}

export interface Heartbeat {
  /** Writes the heartbeat now (as when what it carries changed). */
  beat(): void;
  stop(): void;
}

/**
 * The worker's heartbeat: a key that expires unless it is written again, and beside it what the idle stop
 * counts (`activityMode()`).
 */
export function startHeartbeat(redis: Redis, prefix: string, activityMode: () => string): Heartbeat {
  const beat = () =>
    void redis
      .multi()
      .set(heartbeatKey(prefix), String(Date.now()), 'PX', HEARTBEAT_TTL_MS)
      .set(activityModeKey(prefix), activityMode(), 'PX', HEARTBEAT_TTL_MS)
      .exec()
      .catch(() => undefined);
  beat();
  const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
  timer.unref();
  return {
    beat,
    stop() {
      clearInterval(timer);
      void redis.del(heartbeatKey(prefix), activityModeKey(prefix)).catch(() => undefined);
    },
  };
}
