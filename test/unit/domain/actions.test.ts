import { describe, expect, it } from 'vitest';
import { startContainer, type ActionDeps } from '../../../src/domain/containers/actions.js';
import type { HostPortAllocator } from '../../../src/domain/containers/host-ports.js';
import type { RuntimeContainer } from '../../../src/domain/containers/record.js';
import { MemoryEventLog } from '../../fakes/event-log.js';
import { FakeEngine, FakeQueue, aContainer, aRecord, fakeClock, memoryLogger } from '../../fakes/engine.js';
import { MemoryStore } from '../../fakes/memory-store.js';

/** An engine whose containers' command ends just after the start's own look at them (before the record is written). */
class EndsAtOnce extends FakeEngine {
  override async start(id: string): Promise<RuntimeContainer | null> {
    const started = await super.start(id);
    const container = this.containers.get(id);
    if (container !== undefined) this.containers.set(id, { ...container, running: false, pid: 0, ended: 'exited (code 3)' });
    return started;
  }
}

function deps(store: MemoryStore, engine: FakeEngine): ActionDeps {
  return {
    runtime: engine,
    store,
    queue: new FakeQueue(),
    clock: fakeClock(),
    settings: { disableTimeouts: false, initialTimeoutInterval: 60, orphanGrace: 60 },
    events: new MemoryEventLog(),
    hostPorts: {} as HostPortAllocator,
    logger: memoryLogger(),
  };
}

describe('startContainer', () => {
  it('answers stopped, with why, when the command ended between the engine saying running and the record being written', async () => {
    // The engine event of that end came while the record still said stopped: nothing else would set it right.
    const store = new MemoryStore([aRecord('c', { status: 'stopped', startCount: 1 })]);
    const started = await startContainer(
      deps(store, new EndsAtOnce([aContainer('c', { running: false })])),
      aRecord('c', { status: 'stopped', startCount: 1 }),
    );
    expect(started).toMatchObject({ status: 'stopped', startCount: 2, stopReason: 'exited (code 3)' });
    expect(store.records.get('c')).toMatchObject({ status: 'stopped', stopReason: 'exited (code 3)' });
  });

  it('answers running, as started, when the second look fails (the engine slow to answer)', async () => {
    const store = new MemoryStore([aRecord('c', { status: 'stopped', startCount: 1 })]);
    const engine = new FakeEngine([aContainer('c', { running: false })]);
    engine.inspect = async (id) => {
      if (engine.calls.includes(`start ${id}`)) throw new Error('the engine did not answer in time');
      return engine.containers.get(id) ?? null;
    };
    const started = await startContainer(deps(store, engine), aRecord('c', { status: 'stopped', startCount: 1 }));
    expect(started).toMatchObject({ status: 'running', startCount: 2 });
    expect(store.records.get('c')).toMatchObject({ status: 'running' });
  });

  it('answers running when the container still runs at the second look', async () => {
    const store = new MemoryStore([aRecord('c', { status: 'stopped', startCount: 1 })]);
    const started = await startContainer(
      deps(store, new FakeEngine([aContainer('c', { running: false })])),
      aRecord('c', { status: 'stopped', startCount: 1 }),
    );
    expect(started).toMatchObject({ status: 'running', startCount: 2 });
  });
});
