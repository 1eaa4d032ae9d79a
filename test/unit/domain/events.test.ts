import { describe, expect, it } from 'vitest';
import { stoppedPatch } from '../../../src/domain/containers/record.js';
import { transitionEvent, withContainerEvents } from '../../../src/domain/events.js';
import { MemoryEventLog } from '../../fakes/event-log.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { aRecord } from '../../fakes/engine.js';

describe('the store, telling the event log', () => {
  it('tells of each write that matters to a watcher, once, and of nothing else', async () => {
    const log = new MemoryEventLog();
    const store = withContainerEvents(new MemoryStore(), log, () => undefined);
    await store.insert(aRecord('a'));
    await store.transition('a', {}, { status: 'stopping' });
    await store.transition('a', {}, stoppedPatch(1));
    await store.transition('a', {}, { connections: 2 });
    await store.transition('a', {}, { strikes: 1 }); // bookkeeping: no event
    await store.transition('a', { from: ['running'] }, { status: 'deleting' }); // refused: no event
    await store.adopt(aRecord('b'), '', 0);
    await store.adopt(aRecord('b'), '', 0); // exists: no second event
    await store.remove('a');
    await store.remove('a'); // gone already: no second event
    expect(log.types).toEqual(['container.created', 'container.stopping', 'container.stopped', 'container.activity', 'container.adopted', 'container.deleted']);
  });

  it('keeps a write whose event could not be published, and says so', async () => {
    const failures: string[] = [];
    const broken = {
      publish: async () => Promise.reject(new Error('Redis away')),
      after: async () => ({ events: [], gap: false }),
      subscribe: async () => () => undefined,
    };
    const inner = new MemoryStore();
    const store = withContainerEvents(inner, broken, (_error, type) => failures.push(type));
    await store.insert(aRecord('a'));
    expect(inner.records.has('a')).toBe(true);
    expect(failures).toEqual(['container.created']);
  });

  it('names a status change by the new status, and an activity sample as activity', () => {
    const record = aRecord('a', { status: 'stopped' });
    expect(transitionEvent('running', record, { status: 'stopped' })?.type).toBe('container.stopped');
    expect(transitionEvent('stopped', record, { observedAt: 1 })?.type).toBe('container.activity');
    expect(transitionEvent('stopped', record, { strikes: 1 })).toBeNull();
  });
});
