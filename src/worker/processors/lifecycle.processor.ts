import type { Job } from 'bullmq';
import { JOBS, deletePayload, stopPayload } from '../../adapters/bullmq/jobs.js';
import type { ContainerService } from '../../domain/containers/containers.service.js';

/** Stop and delete jobs: parse the payload, call the service, nothing more. */
export function lifecycleProcessor(service: ContainerService) {
  return async (job: Job): Promise<void> => {
    switch (job.name) {
      case JOBS.stop: {
        const { id, run } = stopPayload.parse(job.data);
        return service.completeStop(id, run);
      }
      case JOBS.delete:
        return service.completeDelete(deletePayload.parse(job.data).id);
      default:
        throw new Error(`unknown job ${job.name}`);
    }
  };
}
