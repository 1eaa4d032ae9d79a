import { MemoryEventLog } from '../../fakes/event-log.js';
import { describe, expect, it } from 'vitest';
import { createIdlePass } from '../../../src/domain/activity/idle-pass.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { FakeEngine, FakeQueue, aRecord, fakeClock, fakeProbe } from '../../fakes/engine.js';

const settings = {
  disableTimeouts: false,
  timeoutInterval: 60,
  initialTimeoutInterval: 60,
  activitySources: { observed: true, reported: true },
  quietConnection: null,
  deleteStoppedAfter: null,
  expiryWarning: 600,
};

function setUp(records: Parameters<typeof aRecord>[], counts: Record<string, number | null>) {
  const store = new MemoryStore(records.map((args) => aRecord(...args)));
  const queue = new FakeQueue();
  const clock = fakeClock();
  const pass = createIdlePass({ store, runtime: new FakeEngine(), probe: fakeProbe(counts), queue, clock, settings, events: new MemoryEventLog() });
  return { store, queue, clock, pass };
}

describe('the idle pass', () => {
  it('samples, then decides each due check on what the sample saw: a connection keeps it, idle twice stops it', async () => {
    const due = 1_000_000;
    const { store, queue, pass } = setUp(
      [
        ['busy', { ports: { '80/tcp': '1' }, pid: 5, nextCheckAt: due, strikes: 1 }],
        ['idle', { ports: { '80/tcp': '2' }, pid: 6, nextCheckAt: due, strikes: 1 }],
        ['first-look', { ports: { '80/tcp': '3' }, pid: 7, nextCheckAt: due }],
        ['not-due', { ports: { '80/tcp': '4' }, pid: 8, nextCheckAt: due + 1 }],
      ],
      { busy: 2, idle: 0, 'first-look': 0, 'not-due': 0 },
    );
    const report = await pass.once({ sample: true });
    expect(report).toMatchObject({ containers: 4, active: 1, checked: 3, stopping: 1 });
    expect(store.records.get('busy')).toMatchObject({ status: 'running', strikes: 0, connections: 2, nextCheckAt: due + 60_000 });
    expect(store.records.get('idle')?.status).toBe('stopping');
    expect(queue.queued).toEqual(['stop idle 1']);
    expect(store.records.get('first-look')).toMatchObject({ status: 'running', strikes: 1, nextCheckAt: due + 60_000 });
    expect(store.records.get('not-due')).toMatchObject({ strikes: 0, nextCheckAt: due + 1 });
  });

  it("on a swarm node, samples only the records of its node (another node's are its own worker's), and decides for all", async () => {
    const { store, queue, pass } = setUp(
      [
        ['here', { ports: { '80/tcp': '1' }, pid: 5, nextCheckAt: 0, strikes: 1, node: 'node-1' }],
        ['there', { ports: { '80/tcp': '2' }, pid: 6, nextCheckAt: 0, strikes: 1, node: 'node-2' }],
      ],
      { here: 0, there: null },
    );
    const sampleOnly = await pass.once({ sample: true, only: (record) => record.node === 'node-1', decide: false });
    expect(sampleOnly).toMatchObject({ containers: 1, unknown: 0, stopping: 0 });
    expect(store.records.get('here')).toMatchObject({ status: 'running', connections: 0 });
    // Not sampled here: it would read as unknown, overwriting its own node's sample.
    expect(store.records.get('there')).toMatchObject({ status: 'running', strikes: 1, connections: null });
    expect(queue.queued).toEqual([]);
    // The worker holding the decisions decides for both, on what the records say.
    const deciding = await pass.once({ sample: true, only: (record) => record.node === 'node-1', decide: true });
    expect(deciding).toMatchObject({ containers: 1, stopping: 2 });
    expect(queue.queued.sort()).toEqual(['stop here 1', 'stop there 1']);
  });

  it('never makes a container idle from a sample it could not take', async () => {
    const { store, pass } = setUp([['unknown', { ports: { '80/tcp': '1' }, pid: 5, nextCheckAt: 0, strikes: 1, observedAt: 999_990 }]], { unknown: null });
    const report = await pass.once({ sample: true });
    expect(report.unknown).toBe(1);
    expect(store.records.get('unknown')?.status).toBe('running');
  });

  it('leaves a record alone that changed since it was read (restarted: another start), so two passes cannot stop it twice', async () => {
    const { store, queue, pass } = setUp([['c', { nextCheckAt: 0, strikes: 1 }]], {});
    const stale = store.records.get('c');
    // Another worker's pass read the same record; this one stops it first.
    await pass.once({ sample: false });
    expect(queue.queued).toEqual(['stop c 1']);
    // The container is started again meanwhile (start 2); the other pass's decision on start 1 must not stick.
    store.records.set('c', { ...(stale as NonNullable<typeof stale>), startCount: 2, status: 'running', strikes: 1, nextCheckAt: 0 });
    await store.transition('c', { startCount: 1 }, { status: 'stopping' });
    expect(store.records.get('c')?.status).toBe('running');
  });

  it('gives a running record without a check (started while the idle stop was off) a check an interval away', async () => {
    const { store, clock, pass } = setUp([['c', { nextCheckAt: null }]], {});
    await pass.once({ sample: false });
    expect(store.records.get('c')?.nextCheckAt).toBe(clock.now() + 60_000);
  });
});
