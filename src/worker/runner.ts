import type { Deps } from '../lifecycle/deps.js';
import { startHeartbeat } from '../lifecycle/health.js';
import { followDocker } from './docker-follower.js';
import { createActivitySampler } from '../domain/activity/sampling.js';
import { observeActivity } from './activity-observer.js';
import { every } from './periodic.js';
import { startWorkers } from './workers.js';

export interface RunningWorker {
  /**
   * Settles once Docker has been reconciled, pending work resumed and activity sampled for the first time (or
   * found unreachable).
   */
  readonly ready: Promise<void>;
  /** Stops taking work, lets the jobs in hand finish and stops following Docker; leaves `deps` open. */
  close(): Promise<void>;
}

/**
 * Everything the worker process does, on `deps` (role worker): the BullMQ workers, the Docker event
 * follower, and a periodic pass that reconciles every record with Docker and re-queues unfinished work.
 */
export function runWorker(deps: Deps): RunningWorker {
  const { config, logger, service } = deps;
  const workers = startWorkers({
    redis: deps.redis,
    instance: config.instance,
    concurrency: config.workerConcurrency,
    service,
    pulls: deps.pulls,
    logger,
  });
  for (const worker of workers) {
    worker.on('completed', () => deps.metrics.jobs.inc({ queue: worker.name, outcome: 'completed' }));
    worker.on('failed', () => deps.metrics.jobs.inc({ queue: worker.name, outcome: 'failed' }));
  }
  const follower = followDocker({ runtime: deps.runtime, service, logger, onReconnect: () => deps.metrics.eventStreamReconnects.inc({ stream: 'containers' }) });
  const observer = observeActivity({
    sources: config.activitySources,
    intervalMs: config.activitySampleInterval * 1000,
    probe: deps.probe,
    sampler: createActivitySampler({ store: deps.store, runtime: deps.runtime, probe: deps.probe, clock: deps.clock }),
    logger,
    metrics: deps.metrics,
    // What /healthz says follows at once, not at the next heartbeat (never called before the first sample,
    // which is asynchronous, so `heartbeat` exists by then).
    onModeChange: () => heartbeat.beat(),
  });
  const heartbeat = startHeartbeat(deps.redis, deps.prefix, () => observer.mode());

  // The first pass (at start-up) re-queues every pending check; later ones only what is overdue, then audit.
  const passes = every(
    config.reconcileInterval * 1000,
    async (first) => {
      const counts = await service.resumePending({ everything: first });
      logger.info(counts, 'pending work resumed');
      if (!first) await service.audit();
    },
    (error) => logger.warn({ err: error }, 'periodic pass failed; will try again'),
  );

  return {
    ready: Promise.all([follower.ready, passes.first, observer.ready]).then(() => undefined),
    async close() {
      heartbeat.stop();
      // Worker.close() waits for the jobs in hand to finish; a pass in progress is finished too.
      await Promise.all([passes.stop(), observer.close(), ...workers.map((w) => w.close()), follower.close()]);
    },
  };
}
