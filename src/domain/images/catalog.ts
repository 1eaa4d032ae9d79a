import { keepFollowing, type Following } from '../follow.js';
import type { EngineEvents, ImageOperations, Logger } from '../ports.js';

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
  runtime: Pick<ImageOperations, 'listImages'> & Pick<EngineEvents, 'watchImages'>;
  logger: Pick<Logger, 'warn'>;
  maxRetryMs?: number;
  /** Called each time the image event stream is followed again after it was lost. */
  onReconnect?: () => void;
}): ImageCatalog {
  /** undefined: not in step with the engine. */
  let images: string[] | undefined;
  let refreshing: Promise<void> | undefined;
  let again = false;
  let following: Following | undefined;

  function refresh(): Promise<void> {
    if (refreshing !== undefined) {
      again = true;
      return refreshing;
    }
    const listing = (async () => {
      do {
        again = false;
        images = await runtime.listImages();
      } while (again);
    })();
    refreshing = listing
      .catch((error: unknown) => {
        images = undefined;
        logger.warn({ err: error }, 'could not list the images after an engine event; asking the engine until the next one');
      })
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  }

  function follow(): Following {
    return keepFollowing({
      open: (signal) => runtime.watchImages(() => void refresh(), signal),
      caughtUp: refresh,
      // The engine is away (or the stream was lost): lists ask it directly, and fail as it does, until it is back.
      onRoundEnd: () => {
        images = undefined;
      },
      maxRetryMs,
      ...(onReconnect === undefined ? {} : { onReconnect }),
    });
  }

  return {
    async list() {
      following ??= follow();
      return images === undefined ? runtime.listImages() : [...images];
    },
    async close() {
      await following?.close();
      images = undefined;
    },
  };
}
