import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Leases } from '../../domain/ports.js';
import { redisCall } from './connection.js';

/** Takes a lease that is free or already this holder's, for `ttl` ms. KEYS: lease. ARGV: holder, ttl. */
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/** Lets go of a lease only if this holder has it. KEYS: lease. ARGV: holder. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

/** Leases as Redis keys (`<prefix>lease:<name>`) holding who has them, expiring by themselves. */
export class RedisLeases implements Leases {
  /** This process, as a holder. */
  private readonly holder = `${process.pid}-${randomBytes(4).toString('hex')}`;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  acquire(name: string, ttlMs: number): Promise<boolean> {
    return redisCall(async () => (await this.redis.eval(ACQUIRE, 1, `${this.prefix}lease:${name}`, this.holder, String(ttlMs))) === 1);
  }

  release(name: string): Promise<void> {
    return redisCall(async () => {
      await this.redis.eval(RELEASE, 1, `${this.prefix}lease:${name}`, this.holder);
    });
  }
}
