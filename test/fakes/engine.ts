import type { Readable } from 'node:stream';
import { noLifetime } from '../../src/domain/containers/record.js';
import type { ContainerRecord, RuntimeContainer } from '../../src/domain/containers/record.js';
import type { ContainerOperations, ConnectionProbe, JobQueue, Logger } from '../../src/domain/ports.js';

/** A record as the server writes it, with `extra` on top. */
export function aRecord(id: string, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id,
    name: `/${id}`,
    image: 'demo',
    status: 'running',
    wakeOnConnect: false,
    active: 0,
    ports: {},
    ip: '',
    node: '',
    startCount: 1,
    checkinAt: null,
    createdAt: 0,
    nextCheckAt: null,
    strikes: 0,
    tokenHash: '',
    pid: 0,
    connections: null,
    observedAt: null,
    sshKeys: [],
    ...noLifetime,
    ...extra,
  };
}

/** A container as the engine tells of it, with `extra` on top. */
export function aContainer(id: string, extra: Partial<RuntimeContainer> = {}): RuntimeContainer {
  return { id, name: `/${id}`, image: 'demo', running: true, ports: {}, ip: '', node: '', createdAt: 0, pid: 0, labels: {}, ended: null, ...extra };
}

/**
 * The engine's container operations in memory: `containers` is what exists. Every call is recorded in `calls`
 * ("remove <id>"), so that a test can say what was, and was not, done to the engine.
 */
export class FakeEngine implements ContainerOperations {
  readonly containers = new Map<string, RuntimeContainer>();
  readonly calls: string[] = [];

  constructor(containers: readonly RuntimeContainer[] = []) {
    for (const container of containers) this.containers.set(container.id, container);
  }

  async createAndStart(): Promise<RuntimeContainer> {
    throw new Error('not in this fake');
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async recreate(): Promise<RuntimeContainer> {
    throw new Error('not in this fake');
  }

  async start(id: string): Promise<RuntimeContainer | null> {
    this.calls.push(`start ${id}`);
    const container = this.containers.get(id);
    if (container === undefined) return null;
    const started = { ...container, running: true };
    this.containers.set(id, started);
    return started;
  }

  async stop(id: string): Promise<'stopped' | 'missing'> {
    this.calls.push(`stop ${id}`);
    const container = this.containers.get(id);
    if (container === undefined) return 'missing';
    this.containers.set(id, { ...container, running: false, ports: {}, ip: '', pid: 0 });
    return 'stopped';
  }

  async remove(id: string): Promise<void> {
    this.calls.push(`remove ${id}`);
    this.containers.delete(id);
  }

  async logs(): Promise<Readable> {
    throw new Error('not in this fake');
  }

  async listManaged(): Promise<RuntimeContainer[]> {
    this.calls.push('list');
    return [...this.containers.values()];
  }

  async inspect(id: string): Promise<RuntimeContainer | null> {
    return this.containers.get(id) ?? null;
  }
}

/** The job queue in memory: what was queued, in order. */
export class FakeQueue implements JobQueue {
  readonly queued: string[] = [];
  readonly pulls = new Set<string>();

  async enqueueStop(id: string, startCount: number): Promise<void> {
    this.queued.push(`stop ${id} ${startCount}`);
  }

  async enqueueDelete(id: string): Promise<void> {
    this.queued.push(`delete ${id}`);
  }

  async enqueuePull(id: string): Promise<void> {
    this.queued.push(`pull ${id}`);
    this.pulls.add(id);
  }

  async pullQueued(id: string): Promise<boolean> {
    return this.pulls.has(id);
  }
}

/** A probe that answers from a table of counts by container id (missing: unknown). */
export function fakeProbe(counts: Record<string, number | null>): ConnectionProbe {
  return {
    unavailable: async () => null,
    sample: async (target) => {
      const connections = counts[target.id];
      return connections === undefined || connections === null
        ? null
        : { connections, byPort: connections > 0 ? { [target.ports[0] ?? 80]: connections } : {}, bytes: null };
    },
  };
}

/** A clock the test moves. */
export function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** A logger that keeps what it was told. */
export function memoryLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (_details: object, message: string) => void lines.push(`${level}: ${message}`);
  return { lines, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}
