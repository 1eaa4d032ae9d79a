import type { ContainerService } from '../domain/containers/containers.service.js';
import type { ContainerRuntime } from '../domain/ports.js';
import type { Logger } from '../lifecycle/logger.js';

export interface FollowerDeps {
  readonly runtime: ContainerRuntime;
  readonly service: Pick<ContainerService, 'audit' | 'reconcile'>;
  readonly logger: Logger;
  /** The longest wait between two attempts to reach the engine. */
  readonly maxRetryMs?: number;
  /** Called each time the event stream is followed again after it was lost. */
  readonly onReconnect?: () => void;
}

export interface DockerFollower {
  /** Settles after the first full reconciliation (or the first failure to reach Docker). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Keeps the records in step with Docker: follows the engine's event stream and reconciles the record of
 * every container that started, died or vanished; after opening (or reopening) the stream it reconciles
 * everything, since events may have been missed. Events for one container are handled one at a time, and a
 * burst of them collapses into one more pass.
 */
export function followDocker({ runtime, service, logger, maxRetryMs = 10_000, onReconnect }: FollowerDeps): DockerFollower {
  const abort = new AbortController();
  const perContainer = serialPerKey((id) => service.reconcile(id), (id, error) => {
    logger.warn({ err: error, containerId: id }, 'could not reconcile a container after an engine event; the next full pass will');
  });
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const loop = (async () => {
    let delay = 500;
    let rounds = 0;
    while (!abort.signal.aborted) {
      if (rounds++ > 0) onReconnect?.();
      // One stream per round: a round that fails after opening it (Redis away during the pass) closes it.
      const round = new AbortController();
      const endRound = () => round.abort();
      abort.signal.addEventListener('abort', endRound, { once: true });
      try {
        // Open the stream first, then reconcile: nothing can happen unseen between the two.
        const { closed } = await runtime.watch((id) => perContainer.push(id), round.signal);
        const { records, failures } = await service.audit();
        logger.info({ records: records.length, failures }, 'following Docker events; records reconciled');
        delay = 500;
        markReady();
        await closed;
        if (abort.signal.aborted) break;
        logger.warn('lost the Docker event stream; reconnecting');
      } catch (error) {
        logger.warn({ err: error }, 'cannot follow Docker events; will retry');
        markReady();
      } finally {
        endRound();
        abort.signal.removeEventListener('abort', endRound);
      }
      await sleep(delay, abort.signal);
      delay = Math.min(delay * 2, maxRetryMs);
    }
  })();

  return {
    ready,
    async close() {
      abort.abort();
      await loop;
      await perContainer.idle();
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Runs `work(key)` at most once at a time per key; pushes during a run ask for exactly one more run. */
export function serialPerKey(work: (key: string) => Promise<void>, onError: (key: string, error: unknown) => void) {
  const again = new Map<string, boolean>();
  const running = new Set<Promise<void>>();
  return {
    push(key: string): void {
      if (again.has(key)) {
        again.set(key, true);
        return;
      }
      again.set(key, false);
      const run = (async () => {
        do {
          again.set(key, false);
          try {
            await work(key);
          } catch (error) {
            onError(key, error);
          }
        } while (again.get(key) === true);
        again.delete(key);
      })();
      running.add(run);
      void run.finally(() => running.delete(run));
    },
    async idle(): Promise<void> {
      while (running.size > 0) await Promise.all(running);
    },
  };
}
