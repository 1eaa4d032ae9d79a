import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../../src/api/middleware/login-throttle.js';

function throttleAt(start = 0) {
  const clock = { t: start };
  const throttle = new LoginThrottle({ maxFailures: 5, lockoutMs: 60_000, freeFailures: 2, delayStepMs: 100, maxDelayMs: 250, maxEntries: 3, now: () => clock.t });
  return { throttle, clock };
}

describe('LoginThrottle', () => {
  it('answers the first failures at once, then slower, then refuses the address for the lockout', () => {
    const { throttle, clock } = throttleAt();
    const verdicts = [1, 2, 3, 4, 5].map(() => throttle.fail('10.0.0.1'));
    expect(verdicts).toEqual([
      { kind: 'allow', delayMs: 0 },
      { kind: 'allow', delayMs: 0 },
      { kind: 'allow', delayMs: 100 },
      { kind: 'allow', delayMs: 200 },
      { kind: 'refuse', retryAfterSeconds: 60 },
    ]);
    clock.t = 59_500;
    expect(throttle.check('10.0.0.1')).toEqual({ kind: 'refuse', retryAfterSeconds: 1 });
    clock.t = 60_001;
    expect(throttle.check('10.0.0.1')).toEqual({ kind: 'allow', delayMs: 0 });
  });

  it('never touches other addresses', () => {
    const { throttle } = throttleAt();
    for (let i = 0; i < 5; i += 1) throttle.fail('10.0.0.1');
    expect(throttle.check('10.0.0.1').kind).toBe('refuse');
    expect(throttle.check('10.0.0.2')).toEqual({ kind: 'allow', delayMs: 0 });
  });

  it('forgets failures on success and once they are older than the lockout', () => {
    const { throttle, clock } = throttleAt();
    for (let i = 0; i < 4; i += 1) throttle.fail('a');
    throttle.succeed('a');
    expect(throttle.fail('a')).toEqual({ kind: 'allow', delayMs: 0 });
    for (let i = 0; i < 3; i += 1) throttle.fail('b');
    clock.t = 61_000;
    expect(throttle.fail('b')).toEqual({ kind: 'allow', delayMs: 0 });
  });

  it('caps the delay and the number of addresses it remembers', () => {
    const { throttle } = throttleAt();
    for (let i = 0; i < 3; i += 1) throttle.fail('a');
    expect(throttle.fail('a')).toEqual({ kind: 'allow', delayMs: 200 });
    for (const address of ['b', 'c', 'd', 'e']) throttle.fail(address);
    expect(throttle.size).toBe(3);
    expect(throttle.fail('a')).toEqual({ kind: 'allow', delayMs: 0 });
  });
});
