import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerRuntime } from '../ports.js';

export interface CatalogLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface ImageCatalog {
  /** Every tagged image as "repository:tag", from memory while in step with the engine, else from the engine. */
  list(): Promise<string[]>;
  /** Stops following the engine. */
  close(): Promise<void>;
}

/**
 * The engine's tagged images, kept in memory and in step with its image events (pull, tag, untag, delete,
 * import, load): the event stream is opened first, then the images are listed, and every event lists them
 * again (one engine call; a burst of events becomes one more). While the stream is down the catalog is not
 * trusted and every list asks the engine itself, so an unreachable engine is still a 503; after a
 * reconnection it is rebuilt. It starts following on the first list, so a process that never lists never
 * follows.
 */
export function createImageCatalog({
  runtime,
  logger,
  maxRetryMs = 10_000,
  onReconnect,
}: {
  runtime: Pick<ContainerRuntime, 'listImages' | 'watchImages'>;
  logger: CatalogLogger;
  maxRetryMs?: number;
  /** Called each time the image event stream is followed again after it was lost. */
  onReconnect?: () => void;
}): ImageCatalog {
  const abort = new AbortController();
  /** undefined: not in step with the engine. */
  let images: string[] | undefined;
  let refreshing: Promise<void> | undefined;
  let again = false;
  let loop: Promise<void> | undefined;

  function refresh(): Promise<void> {
    if (refreshing !== undefined) {
      again = true;
      return refreshing;
    }
    const run = (async () => {
      do {
        again = false;
        images = await runtime.listImages();
      } while (again);
    })();
    refreshing = run
      .catch((error: unknown) => {
        images = undefined;
        logger.warn({ err: error }, 'could not list the images after an engine event; asking the engine until the next one');
      })
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  }

  async function follow(): Promise<void> {
    let delay = 500;
    let rounds = 0;
    while (!abort.signal.aborted) {
      if (rounds++ > 0) onReconnect?.();
      const round = new AbortController();
      const endRound = () => round.abort();
      abort.signal.addEventListener('abort', endRound, { once: true });
      try {
        const { closed } = await runtime.watchImages(() => void refresh(), round.signal);
        await refresh();
        delay = 500;
        await closed;
      } catch {
        // The engine is away: lists ask it directly (and fail as it does) until the stream is back.
      } finally {
        images = undefined;
        endRound();
        abort.signal.removeEventListener('abort', endRound);
      }
      if (abort.signal.aborted) break;
      await sleep(delay, undefined, { signal: abort.signal }).catch(() => undefined);
      delay = Math.min(delay * 2, maxRetryMs);
    }
  }

  return {
    async list() {
      loop ??= follow();
      return images === undefined ? runtime.listImages() : [...images];
    },
    async close() {
      abort.abort();
      await loop;
    },
  };
}
