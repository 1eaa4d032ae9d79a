import { keepFollowing } from '../domain/follow.js';
import type { Consistency } from '../domain/containers/consistency.js';
import type { ContainerRuntime, Logger } from '../domain/ports.js';
import { serialPerKey } from './serial-per-key.js';

export interface FollowerDeps {
  readonly runtime: Pick<ContainerRuntime, 'watch'>;
  readonly consistency: Pick<Consistency, 'reconcileAll' | 'reconcileOne' | 'unrecorded' | 'storeLooksEmpty'>;
  readonly logger: Logger;
  /** The longest wait between two attempts to reach the engine. */
  readonly maxRetryMs?: number;
  /** How often the records of the containers known to exist are looked for (a lost or emptied store). */
  readonly indexScanMs?: number;
  /** Called each time the event stream is followed again after it was lost. */
  readonly onReconnect?: () => void;
}

export interface EngineFollower {
  /** Settles after the first full reconciliation (or the first failure to reach Docker). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Keeps the records in step with Docker: follows the engine's event stream and reconciles the record of every
 * container that started, died or vanished; after opening (or reopening) the stream it reconciles everything,
 * since events may have been missed. Events for one container are handled one at a time, and a burst of them
 * collapses into one more pass. Every `indexScanMs` it also asks the store, in one call, which of the
 * containers it knows to exist have no record (a store emptied or lost, a record deleted by hand), and
 * reconciles those, so that they are adopted within seconds rather than at the next full pass.
 */
export function followEngine({ runtime, consistency, logger, maxRetryMs = 10_000, indexScanMs = 2_000, onReconnect }: FollowerDeps): EngineFollower {
  /** Containers of ours the worker knows to exist: the last listing, and every one an event named since. */
  const known = new Set<string>();
  const perContainer = serialPerKey(
    async (id) => {
      if ((await consistency.reconcileOne(id)) === 'gone') known.delete(id);
    },
    (id, error) => logger.warn({ err: error, containerId: id }, 'could not reconcile a container after an engine event; the next full pass will'),
  );
  const reconcileAll = async () => {
    const report = await consistency.reconcileAll();
    known.clear();
    for (const id of report.containers) known.add(id);
    return report;
  };

  const following = keepFollowing({
    open: (signal) =>
      runtime.watch((id) => {
        known.add(id);
        perContainer.push(id);
      }, signal),
    caughtUp: async () => {
      const { records, failures } = await reconcileAll();
      logger.info({ records: records.length, failures }, 'following Docker events; records reconciled');
    },
    onRoundEnd: (error) => {
      if (error === undefined) logger.warn({}, 'lost the Docker event stream; reconnecting');
      else logger.warn({ err: error }, 'cannot follow Docker events; will retry');
    },
    maxRetryMs,
    ...(onReconnect === undefined ? {} : { onReconnect }),
  });

  let checking: Promise<void> | undefined;
  const indexScan = setInterval(() => {
    if (checking !== undefined || known.size === 0) return;
    checking = (async () => {
      // A store that lost everything is rebuilt in one pass (which says so), not container by container.
      if (await consistency.storeLooksEmpty()) await reconcileAll();
      else for (const id of await consistency.unrecorded([...known])) perContainer.push(id);
    })()
      .catch((error: unknown) => logger.warn({ err: error }, 'could not look for containers without a record; will try again'))
      .finally(() => {
        checking = undefined;
      });
  }, indexScanMs);

  return {
    ready: following.ready,
    async close() {
      clearInterval(indexScan);
      await following.close();
      await checking;
      await perContainer.idle();
    },
  };
}
