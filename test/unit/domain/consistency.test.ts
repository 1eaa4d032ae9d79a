import { describe, expect, it } from 'vitest';
import { createConsistency } from '../../../src/domain/containers/consistency.js';
import { LABELS } from '../../../src/domain/containers/labels.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { FakeEngine, FakeQueue, aContainer, aRecord, fakeClock, memoryLogger } from '../../fakes/engine.js';

const settings = { disableTimeouts: false, initialTimeoutInterval: 60, expiryWarning: 600 };

function setUp(store: MemoryStore, engine: FakeEngine) {
  const clock = fakeClock();
  const logger = memoryLogger();
  const consistency = createConsistency({ runtime: engine, store, queue: new FakeQueue(), clock, settings, logger });
  return { consistency, clock, logger };
}

const labelled = (createId: string, extra: Record<string, string> = {}) => ({
  [LABELS.createId]: createId,
  [LABELS.image]: 'spin-docker/postgres',
  [LABELS.createdAt]: '123',
  [LABELS.tokenHash]: 'a'.repeat(64),
  [LABELS.sshKeys]: 'SHA256:one,SHA256:two',
  ...extra,
});

describe('reconcileAll', () => {
  it('processes every record when one correction fails, and reports how many failed', async () => {
    // Docker has none of the three containers any more: all three records are to be forgotten.
    const store = new MemoryStore([aRecord('a'), aRecord('b'), aRecord('c')]);
    store.failOn = { method: 'remove', id: 'a' };
    const { consistency } = setUp(store, new FakeEngine());
    const report = await consistency.reconcileAll();
    expect(report.failures).toBe(1);
    expect([...store.records.keys()]).toEqual(['a']);
    expect(report.records.map((r) => r.id)).toEqual(['a']);
  });

  it('adopts a container without a record: its identity from its labels, its state from the engine, never a removal', async () => {
    const store = new MemoryStore([aRecord('kept')]);
    const engine = new FakeEngine([
      aContainer('kept'),
      aContainer('lost', { labels: labelled('c1'), ports: { '5432/tcp': '20001' }, ip: '172.17.0.9', pid: 42 }),
      aContainer('asleep', { running: false, labels: labelled('c2') }),
    ]);
    const { consistency, clock, logger } = setUp(store, engine);
    const report = await consistency.reconcileAll();
    expect(report.adopted).toBe(2);
    expect(engine.calls.filter((call) => call.startsWith('remove'))).toEqual([]);
    expect(store.records.get('lost')).toMatchObject({
      image: 'spin-docker/postgres',
      createdAt: 123,
      tokenHash: 'a'.repeat(64),
      sshKeys: ['SHA256:one', 'SHA256:two'],
      status: 'running',
      ports: { '5432/tcp': '20001' },
      ip: '172.17.0.9',
      pid: 42,
      startCount: 1,
      nextCheckAt: clock.now() + 60_000,
    });
    expect(store.records.get('asleep')).toMatchObject({ status: 'stopped', ports: {}, nextCheckAt: null });
    expect(logger.lines.filter((line) => line.includes('adopted'))).toHaveLength(2);
    // Not an empty store (it had a record): no alarm.
    expect(logger.lines.some((line) => line.startsWith('warn'))).toBe(false);
  });

  it('says loudly when the store was empty, and adopts everything', async () => {
    const store = new MemoryStore();
    const engine = new FakeEngine([aContainer('x', { labels: labelled('c1') }), aContainer('y', { labels: labelled('c2') })]);
    const { consistency, logger } = setUp(store, engine);
    await consistency.reconcileAll();
    expect(logger.lines).toContain('warn: the store was empty: 2 containers adopted');
    expect(store.records.size).toBe(2);
  });

  it('is idempotent: a second pass (or a second worker) adopts nothing again', async () => {
    const store = new MemoryStore();
    const engine = new FakeEngine([aContainer('x', { labels: labelled('c1') })]);
    const { consistency } = setUp(store, engine);
    expect((await consistency.reconcileAll()).adopted).toBe(1);
    expect((await consistency.reconcileAll()).adopted).toBe(0);
    expect(store.records.size).toBe(1);
  });

  it('removes only the container of an unfinished create, once its mark has expired', async () => {
    const store = new MemoryStore([aRecord('other')]);
    const engine = new FakeEngine([aContainer('other'), aContainer('half', { labels: labelled('c9') })]);
    const { consistency, clock } = setUp(store, engine);
    await store.markCreate('c9', clock.now() + 5_000);
    // Within its mark: a create in progress, left alone.
    await consistency.reconcileAll();
    expect(engine.containers.has('half')).toBe(true);
    expect(store.records.has('half')).toBe(false);
    // Expired: the create never finished.
    clock.advance(6_000);
    await consistency.reconcileAll();
    expect(engine.containers.has('half')).toBe(false);
    expect(store.marks.has('c9')).toBe(false);
    expect(engine.containers.has('other')).toBe(true);
  });

  it('never removes anything while the store looks freshly emptied, whatever marks it has', async () => {
    const store = new MemoryStore();
    const engine = new FakeEngine([aContainer('half', { labels: labelled('c9') })]);
    const { consistency, clock } = setUp(store, engine);
    await store.markCreate('c9', clock.now() - 1);
    await consistency.reconcileAll();
    expect(engine.containers.has('half')).toBe(true);
    expect(store.records.has('half')).toBe(true);
  });

  it('adopts a container whose record was lost while it was being deleted as what it is: a running one stays running', async () => {
    const store = new MemoryStore([aRecord('other')]);
    const engine = new FakeEngine([aContainer('other'), aContainer('was-deleting', { labels: labelled('c3') })]);
    const { consistency } = setUp(store, engine);
    await consistency.reconcileAll();
    expect(store.records.get('was-deleting')?.status).toBe('running');
    expect(engine.calls.some((call) => call.startsWith('stop') || call.startsWith('remove'))).toBe(false);
  });
});

describe('reconcileOne', () => {
  it('adopts the one container it is asked about, and says whether it still exists', async () => {
    const store = new MemoryStore([aRecord('other')]);
    const engine = new FakeEngine([aContainer('x', { labels: labelled('c1') })]);
    const { consistency } = setUp(store, engine);
    expect(await consistency.reconcileOne('x')).toBe('present');
    expect(store.records.get('x')?.image).toBe('spin-docker/postgres');
    expect(await consistency.reconcileOne('nothing')).toBe('gone');
  });
});
