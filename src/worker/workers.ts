import { UnrecoverableError, Worker, type Job, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import { ZodError } from 'zod';
import { QUEUES, bullPrefix } from '../adapters/bullmq/jobs.js';
import type { ContainerService } from '../domain/containers/containers.service.js';
import { isDomainError, isTransient } from '../domain/errors.js';
import type { Logger } from '../lifecycle/logger.js';
import { activityProcessor } from './processors/activity.processor.js';
import { imagesProcessor } from './processors/images.processor.js';
import { lifecycleProcessor } from './processors/lifecycle.processor.js';
import type { ImagePulls } from '../domain/images/pulls.js';

export interface WorkerDeps {
  readonly redis: Redis;
  readonly instance: string;
  readonly concurrency: number;
  readonly service: ContainerService;
  readonly pulls: Pick<ImagePulls, 'run'>;
  readonly logger: Logger;
}

/**
 * Kinds → retry decisions: a transient failure (Docker or Redis away) is retried with backoff;
 * a bad payload or any other domain error will fail the same way again, so it is not.
 */
function withRetryPolicy<T>(processor: Processor<unknown, T>, logger: Logger): Processor<unknown, T> {
  return async (job: Job) => {
    const log = logger.child({ jobId: job.id, job: job.name, containerId: (job.data as { id?: string })?.id });
    try {
      const result = await processor(job);
      log.debug({ result }, 'job done');
      return result;
    } catch (error) {
      if (error instanceof ZodError || (isDomainError(error) && !isTransient(error))) {
        log.error({ err: error }, 'job failed for good');
        throw new UnrecoverableError((error as Error).message);
      }
      log.warn({ err: error, attempt: job.attemptsMade + 1 }, 'job failed; will retry');
      throw error;
    }
  };
}

/** Creates (and so starts) the worker's BullMQ workers. */
export function startWorkers({ redis, instance, concurrency, service, pulls, logger }: WorkerDeps): Worker[] {
  const options = {
    connection: redis,
    prefix: bullPrefix(instance),
    concurrency,
    // A worker killed mid-job holds its jobs' locks until they expire; another (or the restarted) worker
    // takes such a stalled job over within lockDuration + stalledInterval. Locks are renewed every 5 s.
    lockDuration: 10_000,
    stalledInterval: 5_000,
    maxStalledCount: 3,
  };
  const workers = [
    new Worker(QUEUES.lifecycle, withRetryPolicy(lifecycleProcessor(service), logger), options),
    new Worker(QUEUES.activity, withRetryPolicy(activityProcessor(service), logger), options),
    // A few pulls at a time: each is long and takes the engine's bandwidth.
    new Worker(QUEUES.images, withRetryPolicy(imagesProcessor(pulls), logger), { ...options, concurrency: Math.min(concurrency, 3) }),
  ];
  for (const worker of workers) {
    worker.on('error', (error) => logger.warn({ err: error.message, queue: worker.name }, 'worker error'));
  }
  return workers;
}
