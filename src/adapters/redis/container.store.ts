import type { Redis } from 'ioredis';
import { CONTAINER_STATUSES, type ContainerRecord, type ContainerStatus } from '../../domain/containers/record.js';
import type { CheckInOutcome, ContainerStore, RecordPatch, TransitionGuard, TransitionResult } from '../../domain/ports.js';
import { DomainError } from '../../domain/errors.js';
import { defineScripts, redisCall } from './connection.js';
import { patchFields, readRecord, readRecordPairs, recordFields } from './record-hash.js';
import {
  ADOPT,
  CHECK_IN,
  INSERT,
  LIST,
  MARK_CREATE,
  RECOUNT,
  RELEASE_PORTS,
  REMOVE,
  RESERVE_PORTS,
  RESOLVE_PREFIX,
  TRANSITION,
  UNRECORDED,
} from './scripts.js';

/**
 * Key layout, all under `prefix` (spin-docker:<instance>:):
 *   c:<id>  hash, one container record (its fields: record-hash.ts)
 *   ids     sorted set of ids, scored by creation time: the list, without KEYS scans
 *   addr    hash, container address → id: the check-in index
 *   tokens  hash, SHA-256 of a container's check-in token → id
 *   version counter, incremented by every write to a record
 *   creates sorted set, id of a create under way → the epoch ms its mark expires (see ContainerStore.markCreate)
 *   ports   hash, host port → who holds it: a record's id, `create:<id>` (a create under way), `foreign:<until>`
 *   ports:cursor  where the next search for free ports begins
 *   counts  hash, status → how many records have it (kept by every write; recounted by each reconciliation)
 * A record's `run` field holds its start count (the name it has had since the first release).
 */
interface StoreKeys {
  record(id: string): string;
  recordPrefix: string;
  ids: string;
  addresses: string;
  tokens: string;
  version: string;
  creates: string;
  ports: string;
  portsCursor: string;
  counts: string;
}

/** The keys an insert and an adoption both write: the record, ids, addresses, tokens, version, creates, ports, counts. */
type NewRecordKeys = readonly [string, string, string, string, string, string, string, string];

interface Scripts {
  sdInsert(...keysAndArgs: [...NewRecordKeys, ...string[]]): Promise<number>;
  sdAdopt(...keysAndArgs: [...NewRecordKeys, ...string[]]): Promise<string>;
  sdTransition(record: string, addr: string, version: string, counts: string, ...args: string[]): Promise<[string, string[]?, string?]>;
  sdRemove(record: string, ids: string, addr: string, tokens: string, version: string, ports: string, counts: string, id: string): Promise<number>;
  sdRecount(ids: string, counts: string, prefix: string): Promise<number>;
  sdReservePorts(ports: string, cursor: string, creates: string, count: string, first: string, last: string, createId: string, now: string): Promise<string[]>;
  sdMarkCreate(ids: string, creates: string, createId: string, expiresAt: string, atMost: string, now: string): Promise<number>;
  sdReleasePorts(ports: string, owner: string, ...hostPorts: string[]): Promise<number>;
  sdList(ids: string, version: string, prefix: string): Promise<[string, ...string[][]]>;
  sdCheckIn(
    addr: string,
    tokens: string,
    version: string,
    ip: string,
    prefix: string,
    active: string,
    at: string,
    tokenHash: string,
  ): Promise<number | [number, string]>;
  sdResolve(ids: string, prefix: string): Promise<string[]>;
  sdUnrecorded(prefix: string, ...ids: string[]): Promise<string[]>;
}

const SCRIPTS = {
  sdInsert: { keys: 8, lua: INSERT },
  sdMarkCreate: { keys: 2, lua: MARK_CREATE },
  sdAdopt: { keys: 8, lua: ADOPT },
  sdTransition: { keys: 4, lua: TRANSITION },
  sdRemove: { keys: 7, lua: REMOVE },
  sdRecount: { keys: 2, lua: RECOUNT },
  sdReservePorts: { keys: 3, lua: RESERVE_PORTS },
  sdReleasePorts: { keys: 1, lua: RELEASE_PORTS },
  sdList: { keys: 2, lua: LIST },
  sdCheckIn: { keys: 3, lua: CHECK_IN },
  sdResolve: { keys: 1, lua: RESOLVE_PREFIX },
  sdUnrecorded: { keys: 0, lua: UNRECORDED },
};

/** How long a container made anew on other ports answers to its former id. */
const ALIAS_SECONDS = 90 * 24 * 3600;

/** A record's host ports, comma-separated, as the scripts take them. */
const hostPorts = (record: ContainerRecord) => Object.values(record.ports).join(',');

export function storeKeys(prefix: string): StoreKeys {
  return {
    record: (id) => `${prefix}c:${id}`,
    recordPrefix: `${prefix}c:`,
    ids: `${prefix}ids`,
    addresses: `${prefix}addr`,
    tokens: `${prefix}tokens`,
    version: `${prefix}version`,
    creates: `${prefix}creates`,
    ports: `${prefix}ports`,
    portsCursor: `${prefix}ports:cursor`,
    counts: `${prefix}counts`,
  };
}

/** The domain's ContainerStore on Redis. */
export class RedisContainerStore implements ContainerStore {
  private readonly redis: Redis & Scripts;
  private readonly keys: StoreKeys;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.redis = defineScripts<Scripts>(redis, SCRIPTS);
    this.keys = storeKeys(prefix);
  }

  markCreate(createId: string, expiresAt: number, limit?: { atMost: number; now: number }): Promise<boolean> {
    return redisCall(async () => {
      const marked = await this.redis.sdMarkCreate(
        this.keys.ids,
        this.keys.creates,
        createId,
        String(expiresAt),
        String(limit?.atMost ?? 0),
        String(limit?.now ?? 0),
      );
      return marked === 1;
    });
  }

  private newRecordKeys(id: string): NewRecordKeys {
    const { keys } = this;
    return [keys.record(id), keys.ids, keys.addresses, keys.tokens, keys.version, keys.creates, keys.ports, keys.counts];
  }

  insert(record: ContainerRecord, createId = ''): Promise<void> {
    return redisCall(async () => {
      await this.redis.sdInsert(
        ...this.newRecordKeys(record.id),
        record.id,
        String(record.createdAt),
        record.ip,
        record.tokenHash,
        createId,
        hostPorts(record),
        ...recordFields(record),
      );
    });
  }

  adopt(record: ContainerRecord, createId: string, now: number): Promise<'adopted' | 'exists' | 'in_progress' | 'unfinished'> {
    return redisCall(async () => {
      const outcome = await this.redis.sdAdopt(
        ...this.newRecordKeys(record.id),
        record.id,
        String(record.createdAt),
        record.ip,
        record.tokenHash,
        createId,
        String(now),
        hostPorts(record),
        ...recordFields(record),
      );
      if (outcome === 'adopted' || outcome === 'exists' || outcome === 'in_progress' || outcome === 'unfinished') return outcome;
      throw new DomainError('internal', 'unexpected_answer', `Redis answered ${outcome} to an adoption`);
    });
  }

  reservePorts(count: number, createId: string, range: { first: number; last: number }, now: number): Promise<string[]> {
    const { keys } = this;
    return redisCall(() =>
      this.redis.sdReservePorts(keys.ports, keys.portsCursor, keys.creates, String(count), String(range.first), String(range.last), createId, String(now)),
    );
  }

  releasePorts(owner: string, ports: readonly string[]): Promise<void> {
    if (ports.length === 0) return Promise.resolve();
    return redisCall(async () => {
      await this.redis.sdReleasePorts(this.keys.ports, owner, ...ports);
    });
  }

  markPortsForeign(ports: readonly string[], until: number): Promise<void> {
    if (ports.length === 0) return Promise.resolve();
    return redisCall(async () => {
      await this.redis.hset(this.keys.ports, Object.fromEntries(ports.map((port) => [port, `foreign:${until}`])));
    });
  }

  dropCreateMark(createId: string): Promise<void> {
    return redisCall(async () => {
      await this.redis.zrem(this.keys.creates, createId);
    });
  }

  purgeCreateMarks(before: number): Promise<number> {
    return redisCall(() => this.redis.zremrangebyscore(this.keys.creates, '-inf', `(${before}`));
  }

  setAlias(from: string, to: string): Promise<void> {
    return redisCall(async () => {
      await this.redis.set(`${this.prefix}moved:${from}`, to, 'EX', ALIAS_SECONDS);
    });
  }

  aliasOf(id: string): Promise<string | null> {
    return redisCall(() => this.redis.get(`${this.prefix}moved:${id}`));
  }

  looksEmpty(): Promise<boolean> {
    return redisCall(async () => (await this.redis.exists(this.keys.version)) === 0);
  }

  unrecorded(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return redisCall(() => this.redis.sdUnrecorded(this.keys.recordPrefix, ...ids));
  }

  get(id: string): Promise<ContainerRecord | null> {
    return redisCall(async () => {
      const hash = await this.redis.hgetall(this.keys.record(id));
      return Object.keys(hash).length === 0 ? null : readRecord(hash);
    });
  }

  async list(): Promise<ContainerRecord[]> {
    return (await this.listAt()).records;
  }

  listAt(): Promise<{ version: number; records: ContainerRecord[] }> {
    return redisCall(async () => {
      const [version, ...rows] = await this.redis.sdList(this.keys.ids, this.keys.version, this.keys.recordPrefix);
      return { version: Number(version), records: rows.filter((pairs) => pairs.length > 0).map(readRecordPairs) };
    });
  }

  /** Every (re)connection may find another data set than the last one saw (see the port). */
  onReset(listener: () => void): void {
    this.redis.on('ready', listener);
  }

  resolvePrefix(prefix: string): Promise<string[]> {
    return redisCall(() => this.redis.sdResolve(this.keys.ids, prefix));
  }

  version(): Promise<number> {
    return redisCall(async () => Number((await this.redis.get(this.keys.version)) ?? 0));
  }

  transition(id: string, guard: TransitionGuard, patch: RecordPatch): Promise<TransitionResult> {
    const from = (guard.from ?? []).join(',');
    const startCount = guard.startCount === undefined ? '' : String(guard.startCount);
    return redisCall(async () => {
      const [outcome, pairs, previous] = await this.redis.sdTransition(
        this.keys.record(id),
        this.keys.addresses,
        this.keys.version,
        this.keys.counts,
        from,
        startCount,
        ...patchFields(patch),
      );
      if (outcome === 'missing' || pairs === undefined) return { outcome: 'missing' };
      const record = readRecordPairs(pairs);
      if (outcome !== 'applied') return { outcome: 'refused', record };
      const status = CONTAINER_STATUSES.find((s) => s === previous);
      return status === undefined ? { outcome: 'applied', record } : { outcome: 'applied', record, previous: status };
    });
  }

  remove(id: string): Promise<boolean> {
    const { keys } = this;
    return redisCall(
      async () => (await this.redis.sdRemove(keys.record(id), keys.ids, keys.addresses, keys.tokens, keys.version, keys.ports, keys.counts, id)) === 1,
    );
  }

  countByStatus(): Promise<Record<ContainerStatus, number>> {
    return redisCall(async () => {
      const stored = await this.redis.hgetall(this.keys.counts);
      return Object.fromEntries(CONTAINER_STATUSES.map((status) => [status, Math.max(0, Number(stored[status] ?? 0))])) as Record<ContainerStatus, number>;
    });
  }

  recount(): Promise<void> {
    return redisCall(async () => {
      await this.redis.sdRecount(this.keys.ids, this.keys.counts, this.keys.recordPrefix);
    });
  }

  checkIn(ip: string, tokenHash: string | undefined, active: number, at: number): Promise<CheckInOutcome> {
    const { keys } = this;
    return redisCall(async () => {
      const result = await this.redis.sdCheckIn(keys.addresses, keys.tokens, keys.version, ip, keys.recordPrefix, String(active), String(at), tokenHash ?? '');
      if (Array.isArray(result)) return { outcome: 'ok', stopAt: result[1] === '' || result[1] === undefined ? null : Number(result[1]) };
      return { outcome: result === -1 ? 'refused' : 'unknown', stopAt: null };
    });
  }
}
