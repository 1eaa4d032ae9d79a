import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { every } from '../../../src/worker/periodic.js';

/** A task whose runs the test ends by hand, counting how many run at once. */
function controlledTask() {
  const state = { started: 0, running: 0, most: 0, firsts: [] as boolean[] };
  const releases: (() => void)[] = [];
  const task = (first: boolean) => {
    state.started += 1;
    state.running += 1;
    state.most = Math.max(state.most, state.running);
    state.firsts.push(first);
    return new Promise<void>((resolve) =>
      releases.push(() => {
        state.running -= 1;
        resolve();
      }),
    );
  };
  const finishOne = async () => {
    releases.shift()?.();
    await Promise.resolve();
    await Promise.resolve();
  };
  return { state, task, finishOne };
}

describe('every', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('never starts a run while one is in progress, however long it takes', async () => {
    const { state, task, finishOne } = controlledTask();
    const periodic = every(1000, task, () => undefined);
    expect(state.started).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(state.started).toBe(1);
    await finishOne();
    await vi.advanceTimersByTimeAsync(999);
    expect(state.started).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.started).toBe(2);
    expect(state.most).toBe(1);
    expect(state.firsts).toEqual([true, false]);
    await finishOne();
    await periodic.stop();
  });

  it('stop() waits for the run in progress and starts no other', async () => {
    const { state, task, finishOne } = controlledTask();
    const periodic = every(1000, task, () => undefined);
    let stopped = false;
    const stopping = periodic.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(50);
    expect(stopped).toBe(false);
    await finishOne();
    await stopping;
    expect(stopped).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(state.started).toBe(1);
  });

  it('goes on after a run that failed', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const periodic = every(
      100,
      async () => {
        runs += 1;
        if (runs === 1) throw new Error('Redis away');
      },
      (error) => errors.push(error),
    );
    await vi.advanceTimersByTimeAsync(250);
    expect(errors).toHaveLength(1);
    expect(runs).toBeGreaterThanOrEqual(3);
    await periodic.stop();
  });
});
