import type { Redis } from 'ioredis';
import { z } from 'zod';
import { DomainError } from '../../domain/errors.js';
import type { LayerProgress, PullRecord, PullStore } from '../../domain/ports.js';
import { defineScripts, redisCall } from './connection.js';

/**
 * Pulls, under `prefix`:
 *   pull:<id>      hash: id, reference, status, layers (JSON), error, created_at, updated_at
 *   pulls:active   hash: reference → id of the pull in progress (so that one reference is pulled once)
 * A finished pull expires after KEEP_SECONDS.
 */
const KEEP_SECONDS = 24 * 3600;

/** KEYS: pull key prefix, active. ARGV: reference, new id, at. Returns {created (0/1), id}. */
const START_OR_JOIN = `
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current and redis.call('HGET', KEYS[1] .. current, 'status') == 'pulling' then return {0, current} end
redis.call('HSET', KEYS[1] .. ARGV[2], 'id', ARGV[2], 'reference', ARGV[1], 'status', 'pulling', 'layers', '[]', 'error', '', 'created_at', ARGV[3], 'updated_at', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return {1, ARGV[2]}`;

/** KEYS: pull, active. ARGV: status, error, layers, at, reference, ttl. Ends a pull and frees its reference. */
const FINISH = `
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'error', ARGV[2], 'layers', ARGV[3], 'updated_at', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[6])
if redis.call('HGET', KEYS[2], ARGV[5]) == redis.call('HGET', KEYS[1], 'id') then redis.call('HDEL', KEYS[2], ARGV[5]) end
return 1`;

const pullHash = z
  .object({
    id: z.string(),
    reference: z.string(),
    status: z.enum(['pulling', 'done', 'failed']),
    layers: z.string().transform((s) => JSON.parse(s) as LayerProgress[]),
    error: z.string(),
    created_at: z.coerce.number(),
    updated_at: z.coerce.number(),
  })
  .transform((h): PullRecord => ({
    id: h.id,
    reference: h.reference,
    status: h.status,
    layers: h.layers,
    error: h.error === '' ? null : h.error,
    createdAt: h.created_at,
    updatedAt: h.updated_at,
  }));

interface Scripts {
  sdPullStart(prefix: string, active: string, reference: string, id: string, at: string): Promise<[number, string]>;
  sdPullFinish(pull: string, active: string, status: string, error: string, layers: string, at: string, reference: string, ttl: string): Promise<number>;
}

const SCRIPTS = { sdPullStart: { keys: 2, lua: START_OR_JOIN }, sdPullFinish: { keys: 2, lua: FINISH } };

export class RedisPullStore implements PullStore {
  private readonly redis: Redis & Scripts;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.redis = defineScripts<Scripts>(redis, SCRIPTS);
  }

  private key(id: string): string {
    return `${this.prefix}pull:${id}`;
  }

  private get active(): string {
    return `${this.prefix}pulls:active`;
  }

  startOrJoin(reference: string, id: string, at: number): Promise<{ pull: PullRecord; created: boolean }> {
    return redisCall(async () => {
      const [created, current] = await this.redis.sdPullStart(`${this.prefix}pull:`, this.active, reference, id, String(at));
      const pull = await this.get(current);
      if (pull === null) throw new DomainError('internal', 'pull_vanished', `Pull ${current} vanished as it was started`);
      return { pull, created: created === 1 };
    });
  }

  async listActive(): Promise<PullRecord[]> {
    const ids = await redisCall(() => this.redis.hvals(this.active));
    const pulls = await Promise.all(ids.map((id) => this.get(id)));
    return pulls.filter((pull): pull is PullRecord => pull !== null && pull.status === 'pulling');
  }

  get(id: string): Promise<PullRecord | null> {
    return redisCall(async () => {
      const hash = await this.redis.hgetall(this.key(id));
      if (Object.keys(hash).length === 0) return null;
      const parsed = pullHash.safeParse(hash);
      if (!parsed.success) throw new DomainError('internal', 'corrupt_record', `The stored pull ${id} cannot be read`, { cause: parsed.error });
      return parsed.data;
    });
  }

  progress(id: string, layers: readonly LayerProgress[], at: number): Promise<void> {
    return redisCall(async () => {
      await this.redis.hset(this.key(id), 'layers', JSON.stringify(layers), 'updated_at', String(at));
    });
  }

  finish(id: string, outcome: { status: 'done' | 'failed'; error: string | null; layers: readonly LayerProgress[] }, at: number): Promise<void> {
    return redisCall(async () => {
      const reference = (await this.redis.hget(this.key(id), 'reference')) ?? '';
      await this.redis.sdPullFinish(
        this.key(id),
        this.active,
        outcome.status,
        outcome.error ?? '',
        JSON.stringify(outcome.layers),
        String(at),
        reference,
        String(KEEP_SECONDS),
      );
    });
  }
}
