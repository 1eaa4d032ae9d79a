import { CONTAINER_STATUSES, type ContainerRecord, type ContainerStatus } from '../../src/domain/containers/record.js';
import type { ContainerStore, RecordPatch, TransitionGuard, TransitionResult } from '../../src/domain/ports.js';

/**
 * The ContainerStore port in memory, with the same rules as the Redis one (compare-and-set transitions, the
 * address and token indexes, create marks, adoption only where no record is), for unit tests of the domain.
 * `failOn` makes a method throw, as a Redis call can.
 */
export class MemoryStore implements ContainerStore {
  readonly records = new Map<string, ContainerRecord>();
  readonly marks = new Map<string, number>();
  version_ = 0;
  written = false;
  failOn: { method: string; id?: string } | undefined;

  constructor(records: readonly ContainerRecord[] = []) {
    for (const record of records) this.records.set(record.id, record);
    if (records.length > 0) this.bump();
  }

  private bump(): void {
    this.version_ += 1;
    this.written = true;
  }

  private check(method: string, id?: string): void {
    if (this.failOn?.method === method && (this.failOn.id === undefined || this.failOn.id === id)) throw new Error(`${method} failed (a Redis hiccup)`);
  }

  async countByStatus(): Promise<Record<ContainerStatus, number>> {
    const counts = Object.fromEntries(CONTAINER_STATUSES.map((status) => [status, 0])) as Record<ContainerStatus, number>;
    for (const record of this.records.values()) counts[record.status] += 1;
    return counts;
  }

  async recount(): Promise<void> {}

  async markCreate(createId: string, expiresAt: number, limit?: { atMost: number; now: number }): Promise<boolean> {
    if (limit !== undefined) {
      const open = [...this.marks.values()].filter((until) => until > limit.now).length;
      if (this.records.size + open >= limit.atMost) return false;
    }
    this.marks.set(createId, expiresAt);
    return true;
  }

  async insert(record: ContainerRecord, createId?: string): Promise<void> {
    this.check('insert', record.id);
    this.records.set(record.id, record);
    if (createId !== undefined) this.marks.delete(createId);
    this.bump();
  }

  async adopt(record: ContainerRecord, createId: string, now: number): Promise<'adopted' | 'exists' | 'in_progress' | 'unfinished'> {
    this.check('adopt', record.id);
    if (this.records.has(record.id)) return 'exists';
    const expires = this.marks.get(createId);
    if (createId !== '' && expires !== undefined) {
      if (expires > now) return 'in_progress';
      if (this.written) return 'unfinished';
    }
    this.records.set(record.id, record);
    this.marks.delete(createId);
    this.bump();
    return 'adopted';
  }

  readonly ports = new Map<string, string>();

  async reservePorts(count: number, createId: string, range: { first: number; last: number }): Promise<string[]> {
    const taken: string[] = [];
    for (let port = range.first; port <= range.last && taken.length < count; port += 1) if (!this.ports.has(String(port))) taken.push(String(port));
    if (taken.length < count) return [];
    for (const port of taken) this.ports.set(port, `create:${createId}`);
    return taken;
  }

  async releasePorts(owner: string, ports: readonly string[]): Promise<void> {
    for (const port of ports) if (this.ports.get(port) === owner) this.ports.delete(port);
  }

  async markPortsForeign(ports: readonly string[], until: number): Promise<void> {
    for (const port of ports) this.ports.set(port, `foreign:${until}`);
  }

  async dropCreateMark(createId: string): Promise<void> {
    this.marks.delete(createId);
  }

  async purgeCreateMarks(before: number): Promise<number> {
    let dropped = 0;
    for (const [id, expires] of this.marks) if (expires < before && this.marks.delete(id)) dropped += 1;
    return dropped;
  }

  readonly aliases = new Map<string, string>();

  async setAlias(from: string, to: string): Promise<void> {
    this.aliases.set(from, to);
  }

  async aliasOf(id: string): Promise<string | null> {
    return this.aliases.get(id) ?? null;
  }

  async looksEmpty(): Promise<boolean> {
    return !this.written;
  }

  async unrecorded(ids: readonly string[]): Promise<string[]> {
    return ids.filter((id) => !this.records.has(id));
  }

  async get(id: string): Promise<ContainerRecord | null> {
    return this.records.get(id) ?? null;
  }

  async resolvePrefix(prefix: string): Promise<string[]> {
    return [...this.records.keys()].filter((id) => id.startsWith(prefix)).slice(0, 2);
  }

  async list(): Promise<ContainerRecord[]> {
    return [...this.records.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  async listAt() {
    return { version: this.version_, records: await this.list() };
  }

  async version(): Promise<number> {
    return this.version_;
  }

  onReset(): void {}

  async transition(id: string, guard: TransitionGuard, patch: RecordPatch): Promise<TransitionResult> {
    this.check('transition', id);
    const record = this.records.get(id);
    if (record === undefined) return { outcome: 'missing' };
    if ((guard.from !== undefined && !guard.from.includes(record.status)) || (guard.startCount !== undefined && guard.startCount !== record.startCount)) {
      return { outcome: 'refused', record };
    }
    const next = { ...record, ...patch };
    this.records.set(id, next);
    this.bump();
    return { outcome: 'applied', record: next, previous: record.status };
  }

  async remove(id: string): Promise<boolean> {
    this.check('remove', id);
    const existed = this.records.delete(id);
    if (existed) this.bump();
    return existed;
  }

  async checkIn(ip: string, tokenHash: string | undefined, active: number, at: number) {
    const byToken = tokenHash === undefined ? undefined : [...this.records.values()].find((r) => r.tokenHash === tokenHash);
    if (tokenHash !== undefined && byToken === undefined) return { outcome: 'refused' as const, stopAt: null };
    const record = byToken ?? [...this.records.values()].find((r) => r.ip === ip && r.ip !== '');
    if (record === undefined || record.status !== 'running') return { outcome: 'unknown' as const, stopAt: null };
    this.records.set(record.id, { ...record, active, checkinAt: at });
    this.bump();
    return { outcome: 'ok' as const, stopAt: record.stopAt };
  }
}
