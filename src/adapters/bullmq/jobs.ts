import { z } from 'zod';

/**
 * The queue contract, in one place: queue names, job names and payload schemas. Two queues, so that long
 * pulls never hold up a user's stop or delete.
 */
export const QUEUES = {
  /** Stops and deletes of containers. */
  containers: 'containers',
  /** Pulls: slow and rare. */
  images: 'images',
} as const;

export const JOBS = {
  stop: 'stop-container',
  delete: 'delete-container',
  pull: 'pull-image',
} as const;

/** A container's 64-hex id, or a swarm service's 25 characters of base 36 (SD_ENGINE=swarm). */
const containerId = z.string().regex(/^(?:[0-9a-f]{64}|[0-9a-z]{25})$/, "a 64-hex Docker id or a swarm service's id");

/** `startCount` names the start being stopped (it is part of the job id). */
export const stopPayload = z.object({ id: containerId, startCount: z.number().int().nonnegative() });
export const deletePayload = z.object({ id: containerId });

/** A pull of `reference`, known to clients as pull `id`. */
export const pullPayload = z.object({ id: z.string().regex(/^[0-9a-f]{16}$/, 'a pull id'), reference: z.string().min(1).max(255) });

export type StopPayload = z.infer<typeof stopPayload>;
export type PullPayload = z.infer<typeof pullPayload>;
export type DeletePayload = z.infer<typeof deletePayload>;

/**
 * Job ids de-duplicate: while the stop of a container's start (or its delete) is queued, queuing it again adds
 * nothing, while a stop of a later start (stopped, started, stopped again) is a job of its own.
 * BullMQ forbids ':' in custom ids.
 */
export const jobIds = {
  stop: (id: string, startCount: number) => `stop-${id}-${startCount}`,
  delete: (id: string) => `delete-${id}`,
  pull: (id: string) => `pull-${id}`,
};
