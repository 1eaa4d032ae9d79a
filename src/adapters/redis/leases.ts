import type { Redis } from 'ioredis';
import type { Leases } from '../../domain/ports.js';
import { redisCall } from './connection.js';

/** Leases as Redis keys (`<prefix>lease:<name>`) set only if absent, expiring by themselves. */
export class RedisLeases implements Leases {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  acquire(name: string, ttlMs: number): Promise<boolean> {
    return redisCall(async () => (await this.redis.set(`${this.prefix}lease:${name}`, String(process.pid), 'PX', ttlMs, 'NX')) === 'OK');
  }
}
