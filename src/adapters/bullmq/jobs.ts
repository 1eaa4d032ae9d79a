import { z } from 'zod';

/**
 * The queue contract, in one place: queue names, job names and payload schemas.
 * Two queues, so that a burst of due activity checks never delays a user's stop or delete.
 */
export const QUEUES = {
  lifecycle: 'lifecycle',
  activity: 'activity',
  /** Pulls: slow and rare, kept apart so that they never hold up a stop. */
  images: 'images',
} as const;

export const JOBS = {
  stop: 'stop-container',
  delete: 'delete-container',
  check: 'check-activity',
  pull: 'pull-image',
} as const;

const containerId = z.string().regex(/^[0-9a-f]{64}$/, 'a 64-hex Docker id');

/** `run` names the run being stopped (it is part of the job id). */
export const stopPayload = z.object({ id: containerId, run: z.number().int().nonnegative() });
export const deletePayload = z.object({ id: containerId });
export const checkPayload = z.object({
  id: containerId,
  run: z.number().int().nonnegative(),
  /** Epoch ms at which the check falls due; it must still be the record's pending one when it runs. */
  at: z.number().int().nonnegative(),
});

/** A pull of `reference`, known to clients as pull `id`. */
export const pullPayload = z.object({ id: z.string().regex(/^[0-9a-f]{16}$/, 'a pull id'), reference: z.string().min(1).max(255) });

export type StopPayload = z.infer<typeof stopPayload>;
export type PullPayload = z.infer<typeof pullPayload>;
export type DeletePayload = z.infer<typeof deletePayload>;
export type CheckPayload = z.infer<typeof checkPayload>;

/**
 * Job ids de-duplicate: while the stop of a container's run (or its delete) is queued, queuing it again adds
 * nothing, while a stop of a later run (stopped, started, stopped again) is a job of its own;
 * a check is identified by container, run and due time, so re-queuing the same check is harmless.
 * BullMQ forbids ':' in custom ids.
 */
export const jobIds = {
  stop: (id: string, run: number) => `stop-${id}-${run}`,
  delete: (id: string) => `delete-${id}`,
  check: (check: CheckPayload) => `check-${check.id}-${check.run}-${check.at}`,
  pull: (id: string) => `pull-${id}`,
};

/** BullMQ's key prefix for this installation. */
export const bullPrefix = (instance: string) => `spin-docker:${instance}:bull`;
