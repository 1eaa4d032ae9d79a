import { describe, expect, it } from 'vitest';
import { serialPerKey } from '../../../src/worker/serial-per-key.js';

describe('serialPerKey', () => {
  it('never runs one key twice at once and folds a burst into one more run', async () => {
    const log: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const runner = serialPerKey(
      async (key) => {
        log.push(`start ${key}`);
        if (key === 'a' && log.filter((l) => l === 'start a').length === 1) await gate;
        log.push(`end ${key}`);
      },
      () => undefined,
    );
    runner.push('a');
    runner.push('a');
    runner.push('a');
    runner.push('b');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(log).toEqual(['start a', 'start b', 'end b']);
    release();
    await runner.idle();
    expect(log).toEqual(['start a', 'start b', 'end b', 'end a', 'start a', 'end a']);
  });

  it('reports a failure and keeps going', async () => {
    const errors: string[] = [];
    const runner = serialPerKey(
      async (key) => {
        if (key === 'bad') throw new Error('boom');
      },
      (key) => errors.push(key),
    );
    runner.push('bad');
    runner.push('good');
    await runner.idle();
    expect(errors).toEqual(['bad']);
  });
});
