/** A task run now and then every `intervalMs` after the previous run ended. */
export interface Periodic {
  /** Settles when the first run has ended. */
  readonly first: Promise<void>;
  /** No further runs; resolves once the run in progress (if any) has ended. */
  stop(): Promise<void>;
}

/**
 * Runs `task` at once, then again `intervalMs` after each run ends: runs never overlap, however long one
 * takes, and `stop()` waits for the one in progress, so that a shutdown never cuts a pass in half.
 * `task` must handle its own errors (a rejection is passed to `onError` and the schedule goes on).
 */
export function every(intervalMs: number, task: (first: boolean) => Promise<void>, onError: (error: unknown) => void): Periodic {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const tick = (first: boolean) => {
    running = task(first)
      .catch(onError)
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(() => tick(false), intervalMs);
      });
  };
  tick(true);
  const first = running ?? Promise.resolve();

  return {
    first,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
