import type { Redis } from 'ioredis';
import { z } from 'zod';
import { CONTAINER_STATUSES, type ContainerRecord, type ContainerStatus } from '../../domain/containers/record.js';
import type { CheckInOutcome, ContainerStore, RecordPatch, TransitionGuard, TransitionResult } from '../../domain/ports.js';
import { DomainError } from '../../domain/errors.js';
import { defineScripts, redisCall } from './connection.js';
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
 *   c:<id>  hash, one container record (fields below)
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

const optionalMs = z.string().transform((s) => (s === '' ? null : Number(s)));

/** How a record's hash reads back; a malformed hash is a bug worth failing loudly on. */
const recordHash = z
  .object({
    container_id: z.string(),
    name: z.string(),
    image: z.string(),
    status: z.enum(CONTAINER_STATUSES),
    active: z.coerce.number(),
    ports: z.string().transform((s) => JSON.parse(s) as Record<string, string>),
    ip: z.string(),
    // The start count, under the name it has always had in the hash.
    run: z.coerce.number(),
    checkin_at: optionalMs,
    created_at: z.coerce.number(),
    next_check_at: optionalMs,
    strikes: z.coerce.number(),
    token_hash: z.string().default(''),
    // Fields added after the first release: records written before them read as "not known".
    pid: z.coerce.number().default(0),
    connections: z
      .string()
      .default('')
      .transform((s) => (s === '' ? null : Number(s))),
    observed_at: optionalMs.default(null),
    ssh_keys: z
      .string()
      .default('[]')
      .transform((s) => JSON.parse(s) as string[]),
    wake: z.string().default('0'),
    stop_at: optionalMs.default(null),
    delete_at: optionalMs.default(null),
    extended_until: optionalMs.default(null),
    warned_for: optionalMs.default(null),
    stop_reason: z
      .string()
      .default('')
      .transform((s) => (s === '' ? null : s)),
    stopped_at: optionalMs.default(null),
    net_bytes: optionalMs.default(null),
    traffic_at: optionalMs.default(null),
    connected_ports: z
      .string()
      .default('')
      .transform((s) => (s === '' ? [] : s.split(','))),
    node: z.string().default(''),
  })
  .transform((h): ContainerRecord => ({
    id: h.container_id,
    name: h.name,
    image: h.image,
    status: h.status,
    active: h.active,
    ports: h.ports,
    ip: h.ip,
    startCount: h.run,
    checkinAt: h.checkin_at,
    createdAt: h.created_at,
    nextCheckAt: h.next_check_at,
    strikes: h.strikes,
    tokenHash: h.token_hash,
    pid: h.pid,
    connections: h.connections,
    observedAt: h.observed_at,
    sshKeys: h.ssh_keys,
    wakeOnConnect: h.wake === '1',
    stopAt: h.stop_at,
    deleteAt: h.delete_at,
    extendedUntil: h.extended_until,
    warnedFor: h.warned_for,
    stopReason: h.stop_reason,
    stoppedAt: h.stopped_at,
    netBytes: h.net_bytes,
    trafficAt: h.traffic_at,
    connectedPorts: h.connected_ports,
    node: h.node,
  }));

const ms = (value: number | null) => (value === null ? '' : String(value));

/** A patch as field/value pairs, in the hash's own names. */
function patchFields(patch: RecordPatch): string[] {
  const fields: string[] = [];
  const put = (name: string, value: string) => fields.push(name, value);
  if (patch.status !== undefined) put('status', patch.status);
  if (patch.active !== undefined) put('active', String(patch.active));
  if (patch.ports !== undefined) put('ports', JSON.stringify(patch.ports));
  if (patch.ip !== undefined) put('ip', patch.ip);
  if (patch.node !== undefined) put('node', patch.node);
  if (patch.startCount !== undefined) put('run', String(patch.startCount));
  if (patch.checkinAt !== undefined) put('checkin_at', ms(patch.checkinAt));
  if (patch.nextCheckAt !== undefined) put('next_check_at', ms(patch.nextCheckAt));
  if (patch.strikes !== undefined) put('strikes', String(patch.strikes));
  if (patch.pid !== undefined) put('pid', String(patch.pid));
  if (patch.connections !== undefined) put('connections', patch.connections === null ? '' : String(patch.connections));
  if (patch.observedAt !== undefined) put('observed_at', ms(patch.observedAt));
  if (patch.stopAt !== undefined) put('stop_at', ms(patch.stopAt));
  if (patch.deleteAt !== undefined) put('delete_at', ms(patch.deleteAt));
  if (patch.extendedUntil !== undefined) put('extended_until', ms(patch.extendedUntil));
  if (patch.warnedFor !== undefined) put('warned_for', ms(patch.warnedFor));
  if (patch.stopReason !== undefined) put('stop_reason', patch.stopReason ?? '');
  if (patch.stoppedAt !== undefined) put('stopped_at', ms(patch.stoppedAt));
  if (patch.netBytes !== undefined) put('net_bytes', ms(patch.netBytes));
  if (patch.trafficAt !== undefined) put('traffic_at', ms(patch.trafficAt));
  if (patch.connectedPorts !== undefined) put('connected_ports', patch.connectedPorts.join(','));
  return fields;
}

/** A stored record that does not read back is the server's fault (a bug, a hand edit), never the client's. */
function fromPairs(pairs: string[]): ContainerRecord {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) hash[pairs[i] as string] = pairs[i + 1] as string;
  try {
    return recordHash.parse(hash);
  } catch (error) {
    throw new DomainError('internal', 'corrupt_record', `The stored record of container ${hash.container_id ?? '(no id)'} cannot be read`, { cause: error });
  }
}

interface Scripts {
  sdInsert(
    record: string,
    ids: string,
    addr: string,
    tokens: string,
    version: string,
    creates: string,
    ports: string,
    counts: string,
    ...args: string[]
  ): Promise<number>;
  sdAdopt(
    record: string,
    ids: string,
    addr: string,
    tokens: string,
    version: string,
    creates: string,
    ports: string,
    counts: string,
    ...args: string[]
  ): Promise<string>;
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

/** The hash fields of a whole record. */
function recordFields(record: ContainerRecord): string[] {
  const identity = {
    container_id: record.id,
    name: record.name,
    image: record.image,
    created_at: String(record.createdAt),
    token_hash: record.tokenHash,
    ssh_keys: JSON.stringify(record.sshKeys),
    wake: record.wakeOnConnect ? '1' : '0',
  };
  return [...Object.entries(identity).flat(), ...patchFields(record)];
}

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

  insert(record: ContainerRecord, createId = ''): Promise<void> {
    const { keys } = this;
    return redisCall(async () => {
      await this.redis.sdInsert(
        keys.record(record.id),
        keys.ids,
        keys.addresses,
        keys.tokens,
        keys.version,
        keys.creates,
        keys.ports,
        keys.counts,
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
    const { keys } = this;
    return redisCall(async () => {
      const outcome = await this.redis.sdAdopt(
        keys.record(record.id),
        keys.ids,
        keys.addresses,
        keys.tokens,
        keys.version,
        keys.creates,
        keys.ports,
        keys.counts,
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
      return Object.keys(hash).length === 0 ? null : fromPairs(Object.entries(hash).flat());
    });
  }

  async list(): Promise<ContainerRecord[]> {
    return (await this.listAt()).records;
  }

  listAt(): Promise<{ version: number; records: ContainerRecord[] }> {
    return redisCall(async () => {
      const [version, ...rows] = await this.redis.sdList(this.keys.ids, this.keys.version, this.keys.recordPrefix);
      return { version: Number(version), records: rows.filter((pairs) => pairs.length > 0).map(fromPairs) };
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
    const run = guard.startCount === undefined ? '' : String(guard.startCount);
    return redisCall(async () => {
      const [outcome, pairs, previous] = await this.redis.sdTransition(
        this.keys.record(id),
        this.keys.addresses,
        this.keys.version,
        this.keys.counts,
        from,
        run,
        ...patchFields(patch),
      );
      if (outcome === 'missing' || pairs === undefined) return { outcome: 'missing' };
      const record = fromPairs(pairs);
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
