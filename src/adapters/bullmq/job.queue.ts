import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { JobQueue } from '../../domain/ports.js';
import { bullPrefix } from '../redis/keys.js';
import { redisCall } from '../redis/connection.js';
import { JOBS, QUEUES, jobIds, type DeletePayload, type PullPayload, type StopPayload } from './jobs.js';

/**
 * Completed and failed jobs are removed: their ids must be free for the next stop of the same container,
 * and a failure is logged by the worker when it happens.
 */
const containerJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: true,
  removeOnFail: true,
};

/** The domain's JobQueue on BullMQ. */
export class BullJobQueue implements JobQueue {
  readonly containers: Queue;
  readonly images: Queue;

  constructor(connection: ConnectionOptions, instance: string) {
    const prefix = bullPrefix(instance);
    this.containers = new Queue(QUEUES.containers, { connection, prefix });
    this.images = new Queue(QUEUES.images, { connection, prefix });
  }

  async enqueueStop(id: string, startCount: number): Promise<void> {
    const payload: StopPayload = { id, startCount };
    await redisCall(() => this.containers.add(JOBS.stop, payload, { ...containerJobOptions, jobId: jobIds.stop(id, startCount) }));
  }

  async enqueueDelete(id: string): Promise<void> {
    const payload: DeletePayload = { id };
    await redisCall(() => this.containers.add(JOBS.delete, payload, { ...containerJobOptions, jobId: jobIds.delete(id) }));
  }

  async enqueuePull(id: string, reference: string): Promise<void> {
    const payload: PullPayload = { id, reference };
    // One attempt: a failed pull is reported as failed, and asking again starts a new one.
    await redisCall(() => this.images.add(JOBS.pull, payload, { attempts: 1, removeOnComplete: true, removeOnFail: true, jobId: jobIds.pull(id) }));
  }

  async pullQueued(id: string): Promise<boolean> {
    const state = await redisCall(() => this.images.getJobState(jobIds.pull(id)));
    return state === 'waiting' || state === 'active' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children';
  }

  async close(): Promise<void> {
    await Promise.all([this.containers.close(), this.images.close()]);
  }
}
