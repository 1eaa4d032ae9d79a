import { describe, expect, it } from 'vitest';
import { createContainerService } from '../../../src/domain/containers/containers.service.js';
import type { ContainerRecord, RuntimeContainer } from '../../../src/domain/containers/record.js';
import type { ContainerRuntime, ContainerStore, JobQueue } from '../../../src/domain/ports.js';

const record = (id: string, status: ContainerRecord['status'] = 'running'): ContainerRecord => ({
  id, name: `/${id}`, image: 'demo', status, active: 0, ports: {}, ip: '', run: 1,
  checkinAt: null, createdAt: 0, nextCheckAt: null, strikes: 0, tokenHash: '', pid: 0, connections: null, observedAt: null, sshKeys: [],
});

const quiet = { warn: () => undefined, info: () => undefined };
const settings = { disableTimeouts: true, initialTimeoutInterval: 60, timeoutInterval: 60, stopTimeout: 1, checkinUrl: undefined, orphanGrace: 60, activitySources: { observed: true, reported: true }, allowedImages: ['*'], defaultSshKeys: [] };

/** Records in memory; removing `failing` fails, as a Redis call can. */
function storeWith(records: ContainerRecord[], failing: string) {
  const held = new Map(records.map((r) => [r.id, r]));
  const store = {
    list: async () => [...held.values()],
    remove: async (id: string) => {
      if (id === failing) throw new Error('Redis hiccup');
      return held.delete(id);
    },
  } as unknown as ContainerStore;
  return { store, held };
}

describe('audit', () => {
  it('processes every record when one correction fails, and reports how many failed', async () => {
    // Docker has none of the three containers any more: all three records are to be forgotten.
    const { store, held } = storeWith([record('a'), record('b'), record('c')], 'a');
    const runtime = { listManaged: async (): Promise<RuntimeContainer[]> => [] } as unknown as ContainerRuntime;
    const queue = { cancelCheck: async () => undefined } as unknown as JobQueue;
    const service = createContainerService({ runtime, store, queue, clock: { now: () => 1_000_000 }, settings, logger: quiet });

    const report = await service.audit();
    expect(report.failures).toBe(1);
    expect([...held.keys()]).toEqual(['a']);
    expect(report.records.map((r) => r.id)).toEqual(['a']);
  });
});
