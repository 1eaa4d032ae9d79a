import type { Job } from 'bullmq';
import { JOBS, deletePayload, stopPayload } from '../../adapters/bullmq/jobs.js';
import type { ContainerJobs } from '../../domain/containers/jobs.js';

/** Stop and delete jobs: parse the payload, call the use case, nothing more. */
export function containersProcessor(jobs: ContainerJobs) {
  return async (job: Job): Promise<void> => {
    switch (job.name) {
      case JOBS.stop: {
        const { id, startCount } = stopPayload.parse(job.data);
        return jobs.completeStop(id, startCount);
      }
      case JOBS.delete:
        return jobs.completeDelete(deletePayload.parse(job.data).id);
      default:
        throw new Error(`unknown job ${job.name}`);
    }
  };
}
