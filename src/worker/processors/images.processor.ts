import type { Job } from 'bullmq';
import { JOBS, pullPayload } from '../../adapters/bullmq/jobs.js';
import type { ImagePulls } from '../../domain/images/pulls.js';

/** Pulls: parse the payload, carry the pull out (its outcome is written into the pull itself). */
export function imagesProcessor(pulls: Pick<ImagePulls, 'carryOut'>) {
  return async (job: Job): Promise<string> => {
    if (job.name !== JOBS.pull) throw new Error(`unknown job ${job.name}`);
    const { id, reference } = pullPayload.parse(job.data);
    return pulls.carryOut(id, reference);
  };
}
