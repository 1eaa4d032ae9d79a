import { describe, expect, it } from 'vitest';
import { decideCheck, firstCheckAt, isActive } from '../../../src/domain/activity/idle-rule.js';

const settings = { timeoutInterval: 1800 };
const now = 10_000_000;
const minutesAgo = (m: number) => now - m * 60_000;

describe('isActive', () => {
  it('needs a non-zero count reported within the interval', () => {
    expect(isActive({ active: 2, checkinAt: minutesAgo(5), strikes: 0 }, now, settings)).toBe(true);
    expect(isActive({ active: 2, checkinAt: minutesAgo(30), strikes: 0 }, now, settings)).toBe(true);
    expect(isActive({ active: 2, checkinAt: minutesAgo(31), strikes: 0 }, now, settings)).toBe(false);
    expect(isActive({ active: 0, checkinAt: minutesAgo(1), strikes: 0 }, now, settings)).toBe(false);
    expect(isActive({ active: 3, checkinAt: null, strikes: 0 }, now, settings)).toBe(false);
  });
});

describe('decideCheck', () => {
  it('reschedules an active container an interval later and forgives earlier idle looks', () => {
    expect(decideCheck({ active: 1, checkinAt: minutesAgo(1), strikes: 1 }, now, settings)).toEqual({
      kind: 'reschedule',
      strikes: 0,
      nextCheckAt: now + 1_800_000,
    });
  });

  it('gives an idle container one final look', () => {
    expect(decideCheck({ active: 0, checkinAt: null, strikes: 0 }, now, settings)).toEqual({
      kind: 'reschedule',
      strikes: 1,
      nextCheckAt: now + 1_800_000,
    });
  });

  it('stops a container idle at its final look', () => {
    expect(decideCheck({ active: 0, checkinAt: minutesAgo(1), strikes: 1 }, now, settings)).toEqual({ kind: 'stop' });
  });

  it('treats a stale non-zero report as idle (a dead reporter cannot keep a container alive)', () => {
    expect(decideCheck({ active: 9, checkinAt: minutesAgo(45), strikes: 1 }, now, settings)).toEqual({ kind: 'stop' });
  });

  it('with the defaults stops a silent container 2.5 hours after its start', () => {
    const started = 0;
    const first = firstCheckAt(started, 7200);
    const look = decideCheck({ active: 0, checkinAt: null, strikes: 0 }, first, settings);
    expect(look.kind).toBe('reschedule');
    const finalAt = look.kind === 'reschedule' ? look.nextCheckAt : NaN;
    expect(finalAt).toBe(2.5 * 3600 * 1000);
    expect(decideCheck({ active: 0, checkinAt: null, strikes: 1 }, finalAt, settings)).toEqual({ kind: 'stop' });
  });
});
