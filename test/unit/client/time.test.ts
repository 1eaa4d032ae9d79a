import { describe, expect, it } from 'vitest';
import { clockTime, relative } from '../../../src/client/time.js';

const now = Date.parse('2026-12-03T10:00:00Z');

describe('clockTime', () => {
  it('says a time of the same UTC day as the server does, "HH:MM UTC"', () => {
    expect(clockTime('2026-12-03T18:05:59Z', now)).toBe('18:05 UTC');
    expect(clockTime('2026-12-03T00:00:00.000Z', now)).toBe('00:00 UTC');
  });

  it('adds the date for another UTC day, whatever the local zone', () => {
    const zone = process.env.TZ;
    // Far from UTC, so that a local-time rendering would show other hours and another day.
    process.env.TZ = 'Asia/Tokyo';
    try {
      expect(clockTime('2026-12-03T18:05:00Z', now)).toBe('18:05 UTC');
      expect(clockTime('2026-12-04T00:30:00Z', now)).toBe('2026-12-04 00:30 UTC');
      expect(clockTime('2026-12-03T00:59:00+01:00', now)).toBe('2026-12-02 23:59 UTC');
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});

describe('relative', () => {
  it('says how far a time is from now, long for the CLI and short for the dashboard', () => {
    expect(relative('2026-12-03T09:57:00Z', 'long', now)).toBe('3 minutes ago');
    expect(relative('2026-12-03T12:00:00Z', 'short', now)).toBe('in 2 h');
    expect(relative('2026-12-03T10:00:00.500Z', 'long', now)).toBe('now');
    expect(relative(null, 'long', now)).toBe('');
  });
});
