import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { failureDelay } from '../../domain/logins.js';
import type { LoginStanding, LoginThrottle, LoginVerdict, Refusal } from '../../domain/ports.js';
import { redisCall } from './connection.js';

export interface LoginThrottleSettings {
  /** Failed logins of one client within `lockoutSeconds` after which it is refused. */
  readonly maxFailures: number;
  /** How long a client is refused, and how long its failures are remembered. */
  readonly lockoutSeconds: number;
  /** Failed logins of all clients together within `lockoutSeconds` after which every login is refused. */
  readonly globalMaxFailures: number;
}

const GLOBAL = 'all';

/**
 * The login throttle in Redis, counted by rate-limiter-flexible (one atomic script per failure), by the client
 * keys the API gives it (api/middleware/client.ts). A client's standing is one MGET of its counter and the
 * global one; only a refusal asks how long is left.
 */
export class RedisLoginThrottle implements LoginThrottle {
  private readonly perClient: RateLimiterRedis;
  private readonly global: RateLimiterRedis;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly settings: LoginThrottleSettings,
  ) {
    this.perClient = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${prefix}login:client`,
      points: settings.maxFailures,
      duration: settings.lockoutSeconds,
      blockDuration: settings.lockoutSeconds,
    });
    this.global = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${prefix}login:global`,
      points: settings.globalMaxFailures,
      duration: settings.lockoutSeconds,
    });
  }

  standing(client: string): Promise<LoginStanding> {
    const clientCounter = this.perClient.getKey(client);
    const globalCounter = this.global.getKey(GLOBAL);
    return redisCall(async () => {
      const [client, all] = await this.redis.mget(clientCounter, globalCounter);
      if (Number(all ?? 0) >= this.settings.globalMaxFailures) return this.refusal(globalCounter);
      if (Number(client ?? 0) >= this.settings.maxFailures) return this.refusal(clientCounter);
      return { kind: 'allow', failures: Number(client ?? 0) };
    });
  }

  async fail(key: string): Promise<LoginVerdict> {
    const all = await this.consume(this.global, GLOBAL);
    if (all.consumedPoints > this.settings.globalMaxFailures) return refuse(all.msBeforeNext);
    const mine = await this.consume(this.perClient, key);
    if (mine.consumedPoints >= this.settings.maxFailures) {
      // The lockout counts from the failure that reached the limit, not from the first one.
      await redisCall(() => this.perClient.block(key, this.settings.lockoutSeconds));
      return refuse(this.settings.lockoutSeconds * 1000);
    }
    return { kind: 'allow', delayMs: failureDelay(mine.consumedPoints) };
  }

  succeed(client: string): Promise<void> {
    return redisCall(async () => {
      await this.perClient.delete(client);
    });
  }

  /** Consumes a point; being over the limit is an answer, not an error. */
  private async consume(limiter: RateLimiterRedis, key: string): Promise<RateLimiterRes> {
    try {
      return await limiter.consume(key);
    } catch (error) {
      if (error instanceof RateLimiterRes) return error;
      return redisCall(() => Promise.reject(error as Error));
    }
  }

  private async refusal(counter: string): Promise<Refusal> {
    return refuse(await this.redis.pttl(counter));
  }
}

function refuse(ms: number): Refusal {
  return { kind: 'refuse', retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) };
}
