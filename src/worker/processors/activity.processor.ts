import type { Job } from 'bullmq';
import { JOBS, checkPayload } from '../../adapters/bullmq/jobs.js';
import type { CheckOutcome, ContainerService } from '../../domain/containers/containers.service.js';

/** Activity checks: parse, decide, and return the outcome (kept on the job for the log). */
export function activityProcessor(service: ContainerService) {
  return async (job: Job): Promise<CheckOutcome> => {
    if (job.name !== JOBS.check) throw new Error(`unknown job ${job.name}`);
    return service.runCheck(checkPayload.parse(job.data));
  };
}
