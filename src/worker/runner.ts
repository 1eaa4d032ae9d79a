import type { Deps } from '../lifecycle/deps.js';
import { startHeartbeat } from '../lifecycle/health.js';
import { followDocker } from './docker-follower.js';
import { startWorkers } from './workers.js';

export interface RunningWorker {
  /** Settles once Docker has been reconciled for the first time (or found unreachable). */
  readonly ready: Promise<void>;
  /** Stops taking work, lets the jobs in hand finish and stops following Docker; leaves `deps` open. */
  close(): Promise<void>;
}

/**
 * Everything the worker process does, on `deps` (role worker): the BullMQ workers, the Docker event
 * follower, and a periodic pass that reconciles every record with Docker and re-queues unfinished work.
 */
export async function runWorker(deps: Deps): Promise<RunningWorker> {
  const { config, logger, service } = deps;
  const workers = startWorkers({
    redis: deps.redis,
    instance: config.instance,
    concurrency: config.workerConcurrency,
    service,
    logger,
  });
  const follower = followDocker({ runtime: deps.runtime, service, logger });
  const stopHeartbeat = startHeartbeat(deps.redis, deps.prefix);

  const pass = async (everything: boolean) => {
    try {
      const counts = await service.resumePending({ everything });
      logger.info(counts, 'pending work resumed');
      if (!everything) await service.audit();
    } catch (error) {
      logger.warn({ err: error }, 'periodic pass failed; will try again');
    }
  };
  await pass(true);
  const timer = setInterval(() => void pass(false), config.reconcileInterval * 1000);

  return {
    ready: follower.ready,
    async close() {
      clearInterval(timer);
      stopHeartbeat();
      // Worker.close() waits for the jobs in hand to finish.
      await Promise.all([...workers.map((w) => w.close()), follower.close()]);
    },
  };
}
