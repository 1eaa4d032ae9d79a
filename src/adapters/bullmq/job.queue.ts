import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { JobQueue, ScheduledCheck } from '../../domain/ports.js';
import { redisCall } from '../redis/connection.js';
import { JOBS, QUEUES, bullPrefix, jobIds, type CheckPayload, type DeletePayload, type PullPayload, type StopPayload } from './jobs.js';

/**
 * Completed and failed jobs are removed: their ids must be free for the next stop of the same container,
 * and a failure is logged by the worker when it happens.
 */
const lifecycleOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: true,
  removeOnFail: true,
};

const checkOptions: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: true,
  removeOnFail: true,
};

/** The domain's JobQueue on BullMQ. */
export class BullJobQueue implements JobQueue {
  readonly lifecycle: Queue;
  readonly activity: Queue;
  readonly images: Queue;

  constructor(connection: ConnectionOptions, instance: string, private readonly clock: () => number = Date.now) {
    const prefix = bullPrefix(instance);
    this.lifecycle = new Queue(QUEUES.lifecycle, { connection, prefix });
    this.activity = new Queue(QUEUES.activity, { connection, prefix });
    this.images = new Queue(QUEUES.images, { connection, prefix });
  }

  async enqueueStop(id: string, run: number): Promise<void> {
    const payload: StopPayload = { id, run };
    await redisCall(() => this.lifecycle.add(JOBS.stop, payload, { ...lifecycleOptions, jobId: jobIds.stop(id, run) }));
  }

  async enqueueDelete(id: string): Promise<void> {
    const payload: DeletePayload = { id };
    await redisCall(() => this.lifecycle.add(JOBS.delete, payload, { ...lifecycleOptions, jobId: jobIds.delete(id) }));
  }

  async scheduleCheck(check: ScheduledCheck): Promise<void> {
    const payload: CheckPayload = { id: check.id, run: check.run, at: check.at };
    const delay = Math.max(0, check.at - this.clock());
    await redisCall(() => this.activity.add(JOBS.check, payload, { ...checkOptions, delay, jobId: jobIds.check(payload) }));
  }

  async enqueuePull(id: string, reference: string): Promise<void> {
    const payload: PullPayload = { id, reference };
    // One attempt: a failed pull is reported as failed, and asking again starts a new one.
    await redisCall(() => this.images.add(JOBS.pull, payload, { attempts: 1, removeOnComplete: true, removeOnFail: true, jobId: jobIds.pull(id) }));
  }

  async cancelCheck(check: ScheduledCheck): Promise<void> {
    await redisCall(() => this.activity.remove(jobIds.check(check)));
  }

  async close(): Promise<void> {
    await Promise.all([this.lifecycle.close(), this.activity.close(), this.images.close()]);
  }
}
