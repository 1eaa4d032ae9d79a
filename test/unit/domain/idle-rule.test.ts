import { describe, expect, it } from 'vitest';
import { decideCheck, firstCheckAt, isActive, lastActivity, type ActivitySnapshot } from '../../../src/domain/activity/idle-rule.js';

const both = { observed: true, reported: true };
const settings = { timeoutInterval: 1800, activitySources: both };
const now = 10_000_000;
const minutesAgo = (m: number) => now - m * 60_000;
const snap = (s: Partial<ActivitySnapshot>): ActivitySnapshot => ({ active: 0, checkinAt: null, observedAt: null, strikes: 0, ...s });

describe('isActive', () => {
  it('counts a non-zero count reported within the interval', () => {
    expect(isActive(snap({ active: 2, checkinAt: minutesAgo(5) }), now, settings)).toBe(true);
    expect(isActive(snap({ active: 2, checkinAt: minutesAgo(30) }), now, settings)).toBe(true);
    expect(isActive(snap({ active: 2, checkinAt: minutesAgo(31) }), now, settings)).toBe(false);
    expect(isActive(snap({ active: 0, checkinAt: minutesAgo(1) }), now, settings)).toBe(false);
    expect(isActive(snap({ active: 3, checkinAt: null }), now, settings)).toBe(false);
  });

  it('counts a connection seen by a sample within the interval', () => {
    expect(isActive(snap({ observedAt: minutesAgo(1) }), now, settings)).toBe(true);
    expect(isActive(snap({ observedAt: minutesAgo(30) }), now, settings)).toBe(true);
    expect(isActive(snap({ observedAt: minutesAgo(31) }), now, settings)).toBe(false);
  });

  // Every pair of signals (fresh reported activity, fresh observed activity) under every choice of sources.
  const signals = [
    { name: 'neither', s: snap({}) },
    { name: 'reported only', s: snap({ active: 1, checkinAt: minutesAgo(1) }) },
    { name: 'observed only', s: snap({ observedAt: minutesAgo(1) }) },
    { name: 'both', s: snap({ active: 1, checkinAt: minutesAgo(1), observedAt: minutesAgo(1) }) },
    { name: 'a check-in of 0 and an old sample', s: snap({ active: 0, checkinAt: minutesAgo(1), observedAt: minutesAgo(40) }) },
  ];
  const expected: Record<string, [boolean, boolean, boolean]> = {
    // [observed,reported], [reported], [observed]
    neither: [false, false, false],
    'reported only': [true, true, false],
    'observed only': [true, false, true],
    both: [true, true, true],
    'a check-in of 0 and an old sample': [false, false, false],
  };
  it.each(signals)('with $name: active under observed,reported / reported / observed as the table says', ({ name, s }) => {
    const sources = [both, { observed: false, reported: true }, { observed: true, reported: false }];
    expect(sources.map((activitySources) => isActive(s, now, { timeoutInterval: 1800, activitySources }))).toEqual(expected[name]);
  });
});

describe('decideCheck', () => {
  it('reschedules an active container an interval later and forgives earlier idle looks', () => {
    for (const s of [snap({ active: 1, checkinAt: minutesAgo(1), strikes: 1 }), snap({ observedAt: minutesAgo(1), strikes: 1 })]) {
      expect(decideCheck(s, now, settings)).toEqual({ kind: 'reschedule', strikes: 0, nextCheckAt: now + 1_800_000 });
    }
  });

  it('gives an idle container one final look', () => {
    expect(decideCheck(snap({}), now, settings)).toEqual({ kind: 'reschedule', strikes: 1, nextCheckAt: now + 1_800_000 });
  });

  it('stops a container idle at its final look', () => {
    expect(decideCheck(snap({ strikes: 1 }), now, settings)).toEqual({ kind: 'stop' });
    expect(decideCheck(snap({ active: 1, checkinAt: minutesAgo(45), observedAt: minutesAgo(45), strikes: 1 }), now, settings)).toEqual({ kind: 'stop' });
  });
});

describe('lastActivity', () => {
  it('is the later of a non-zero check-in and a sample that saw a connection', () => {
    expect(lastActivity(snap({}))).toBeNull();
    expect(lastActivity(snap({ active: 0, checkinAt: minutesAgo(1) }))).toBeNull();
    expect(lastActivity(snap({ active: 1, checkinAt: minutesAgo(1), observedAt: minutesAgo(2) }))).toEqual({ at: minutesAgo(1), source: 'reported' });
    expect(lastActivity(snap({ active: 1, checkinAt: minutesAgo(3), observedAt: minutesAgo(2) }))).toEqual({ at: minutesAgo(2), source: 'observed' });
    expect(lastActivity(snap({ observedAt: minutesAgo(2) }))).toEqual({ at: minutesAgo(2), source: 'observed' });
  });
});

describe('firstCheckAt', () => {
  it('is the initial interval after the start', () => {
    expect(firstCheckAt(now, 7200)).toBe(now + 7_200_000);
  });
});
