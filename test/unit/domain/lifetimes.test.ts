import { describe, expect, it } from 'vitest';
import { describeKeptBy } from '../../../src/domain/activity/explain.js';
import { createIdlePass, samplePatch, TRAFFIC_FLOOR_BYTES } from '../../../src/domain/activity/idle-pass.js';
import { keptBy } from '../../../src/domain/activity/idle-rule.js';
import { formatDuration, parseDuration } from '../../../src/domain/durations.js';
import { MemoryEventLog } from '../../fakes/event-log.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { FakeEngine, FakeQueue, aRecord, fakeClock, fakeProbe } from '../../fakes/engine.js';

const rules = { timeoutInterval: 60, activitySources: { observed: true, reported: true }, quietConnection: null };

describe('durations', () => {
  it('reads 90m, 8h, 14d, 2h30m and plain seconds, and nothing else', () => {
    expect(['90m', '8h', '14d', '2h30m', '45s', '3600', ' 1H '].map(parseDuration)).toEqual([5400, 28800, 1209600, 9000, 45, 3600, 3600]);
    expect(['', 'soon', '2x', '-5', '1.5h', 'h'].map(parseDuration)).toEqual([null, null, null, null, null, null]);
  });

  it('says them for people', () => {
    expect([45, 180, 7200, 7260, 1209600, 93600].map(formatDuration)).toEqual(['45 s', '3 min', '2h 0m', '2h 1m', '14d', '1d 2h']);
  });
});

describe('what keeps a container up', () => {
  const now = 1_000_000;
  it('is the extend first, then a fresh connection, then a fresh non-zero check-in, else nothing', () => {
    const base = aRecord('c', {
      connections: 2,
      connectedPorts: ['5432/tcp'],
      observedAt: now - 1000,
      active: 1,
      checkinAt: now - 2000,
      nextCheckAt: now + 60_000,
    });
    expect(keptBy({ ...base, extendedUntil: now + 1 }, now, rules).by).toBe('extend');
    expect(describeKeptBy(base, now, rules)).toBe('2 connections on 5432/tcp');
    expect(describeKeptBy({ ...base, observedAt: null }, now, rules)).toBe('check-in 2 s ago (active=1)');
    expect(describeKeptBy({ ...base, observedAt: null, active: 0 }, now, rules)).toMatch(
      /^nothing: no connection or check-in; the idle check at \d\d:\d\d UTC looks again/,
    );
    expect(describeKeptBy({ ...base, status: 'stopped' }, now, rules)).toBeNull();
  });
});

describe('quiet connections', () => {
  const now = 1_000_000;
  const sample = (connections: number, bytes: number | null) => ({
    pid: 5,
    connections,
    byPort: (connections > 0 ? { 5432: connections } : {}) as Record<number, number>,
    bytes,
  });

  it('count a connection while bytes move, and no longer once they have not for the quiet time', () => {
    const record = aRecord('c', { pid: 5, netBytes: 10_000, trafficAt: now - 10_000 });
    // Bytes moved: traffic now, the connection counts.
    expect(samplePatch(record, sample(1, 10_000 + TRAFFIC_FLOOR_BYTES + 1), now, 30_000)).toMatchObject({
      trafficAt: now,
      observedAt: now,
      connectedPorts: ['5432/tcp'],
    });
    // A check-in's worth of bytes is no traffic; still within the quiet time: it counts.
    expect(samplePatch(record, sample(1, 10_100), now, 30_000)).toMatchObject({ observedAt: now });
    expect(samplePatch(record, sample(1, 10_100), now, 30_000).trafficAt).toBeUndefined();
    // Quiet for longer than allowed: open, but no longer a sign of use.
    expect(samplePatch(record, sample(1, 10_100), now, 5_000).observedAt).toBeUndefined();
    // Off: every open connection counts, as before.
    expect(samplePatch(record, sample(1, null), now, null)).toMatchObject({ observedAt: now });
  });
});

describe('the lifetime pass', () => {
  const settings = {
    disableTimeouts: false,
    timeoutInterval: 60,
    initialTimeoutInterval: 60,
    activitySources: { observed: true, reported: true },
    quietConnection: null,
    deleteStoppedAfter: 100,
    expiryWarning: 30,
  };

  it('warns of a deadline once, stops at it, and deletes a container stopped for too long but not one started again', async () => {
    const clock = fakeClock(1_000_000);
    const now = clock.now();
    const store = new MemoryStore([
      aRecord('soon', { stopAt: now + 20_000, nextCheckAt: now + 600_000 }),
      aRecord('due', { stopAt: now - 1, nextCheckAt: now + 600_000 }),
      aRecord('old', { status: 'stopped', stoppedAt: now - 200_000 }),
      aRecord('young', { status: 'stopped', stoppedAt: now - 50_000 }),
    ]);
    const events = new MemoryEventLog();
    const queue = new FakeQueue();
    const pass = createIdlePass({ store, runtime: new FakeEngine(), probe: fakeProbe({}), queue, events, clock, settings });
    const first = await pass.once({ sample: false });
    expect(first).toMatchObject({ stopping: 1, deleting: 1, warned: 1 });
    expect(store.records.get('due')).toMatchObject({ status: 'stopping', stopReason: 'deadline' });
    expect(store.records.get('old')?.stopReason).toMatch(/^stopped for 3 min \(SD_DELETE_STOPPED_AFTER 1 min\)$/);
    expect(queue.queued).toEqual(['stop due 1', 'delete old']);
    expect(events.types.filter((type) => type === 'container.expiring')).toHaveLength(1);
    // Once is enough: the same deadline is not warned of again.
    expect((await pass.once({ sample: false })).warned).toBe(0);
    expect(store.records.get('young')?.status).toBe('stopped');
  });
});
