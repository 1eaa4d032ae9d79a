import { setTimeout as sleep } from 'node:timers/promises';

export interface FollowOptions {
  /** Opens the stream; resolves once it is open, with `closed`, which settles when it ends, fails or `signal` aborts. */
  open(signal: AbortSignal): Promise<{ readonly closed: Promise<void> }>;
  /** Run after every opening, before waiting on the stream: catch up on what may have been missed while it was shut. */
  caughtUp(): Promise<void>;
  /** Told how each round ended: lost (no error) or failed to open or catch up (the error). Not called after close(). */
  onRoundEnd?(error: unknown): void;
  /** Called each time the stream is followed again after it was lost. */
  onReconnect?(): void;
  /** The longest wait between two attempts. */
  readonly maxRetryMs?: number;
}

export interface Following {
  /** Settles after the first round caught up, or failed to. */
  readonly ready: Promise<void>;
  /** Stops following; resolves once the stream is shut. */
  close(): Promise<void>;
}

/**
 * Follows a stream of changes for as long as it is wanted: opens it, catches up, waits for it to end, and
 * opens it again with a growing pause (500 ms, doubling, up to `maxRetryMs`) after each loss or failure;
 * a round that caught up resets the pause. Opening first and catching up second means that nothing can
 * happen unseen between the two. Used for the engine's container events and its image events.
 */
export function keepFollowing({ open, caughtUp, onRoundEnd, onReconnect, maxRetryMs = 10_000 }: FollowOptions): Following {
  const abort = new AbortController();
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const loop = (async () => {
    let delay = 500;
    for (let round = 0; !abort.signal.aborted; round += 1) {
      if (round > 0) onReconnect?.();
      // One stream per round: a round that fails after opening it closes it.
      const current = new AbortController();
      const endRound = () => current.abort();
      abort.signal.addEventListener('abort', endRound, { once: true });
      let failure: unknown;
      try {
        const { closed } = await open(current.signal);
        await caughtUp();
        delay = 500;
        markReady();
        await closed;
      } catch (error) {
        failure = error ?? new Error('failed');
        markReady();
      } finally {
        endRound();
        abort.signal.removeEventListener('abort', endRound);
      }
      if (abort.signal.aborted) break;
      onRoundEnd?.(failure);
      await sleep(delay, undefined, { signal: abort.signal }).catch(() => undefined);
      delay = Math.min(delay * 2, maxRetryMs);
    }
    markReady();
  })();

  return {
    ready,
    async close() {
      abort.abort();
      await loop;
    },
  };
}
