import { UnrecoverableError, Worker, type Job, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import { ZodError } from 'zod';
import { QUEUES } from '../adapters/bullmq/jobs.js';
import { bullPrefix } from '../adapters/redis/keys.js';
import type { ContainerJobs } from '../domain/containers/jobs.js';
import { isDomainError, isTransient } from '../domain/errors.js';
import type { ImagePulls } from '../domain/images/pulls.js';
import type { Logger } from 'pino';
import { containersProcessor } from './processors/containers.processor.js';
import { imagesProcessor } from './processors/images.processor.js';

export interface JobWorkerDeps {
  readonly redis: Redis;
  readonly instance: string;
  readonly concurrency: number;
  readonly jobs: ContainerJobs;
  readonly pulls: Pick<ImagePulls, 'carryOut'>;
  readonly logger: Logger;
}

/**
 * Kinds → retry decisions: a transient failure (Docker or Redis away) is retried with backoff;
 * a bad payload or any other domain error will fail the same way again, so it is not.
 */
export function withRetryPolicy<T>(processor: Processor<unknown, T>, logger: Logger): Processor<unknown, T> {
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

/** Creates (and so starts) the BullMQ workers of the worker's queues. */
export function startJobWorkers({ redis, instance, concurrency, jobs, pulls, logger }: JobWorkerDeps): Worker[] {
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
    new Worker(QUEUES.containers, withRetryPolicy(containersProcessor(jobs), logger), options),
    // A few pulls at a time: each is long and takes the engine's bandwidth.
    new Worker(QUEUES.images, withRetryPolicy(imagesProcessor(pulls), logger), { ...options, concurrency: Math.min(concurrency, 3) }),
  ];
  for (const worker of workers) {
    worker.on('error', (error) => logger.warn({ err: error.message, queue: worker.name }, 'worker error'));
  }
  return workers;
}
