import type { Clock, ContainerOperations, ContainerStore, Logger } from '../ports.js';
import { stoppedPatch } from './record.js';
import type { ContainerSettings } from './settings.js';

export interface JobDeps {
  readonly runtime: Pick<ContainerOperations, 'stop' | 'remove'>;
  readonly store: ContainerStore;
  readonly settings: Pick<ContainerSettings, 'stopTimeout'>;
  readonly logger: Pick<Logger, 'info'>;
  readonly clock: Clock;
}

/** The slow halves of a stop and a delete, run by the worker's jobs. Both are idempotent. */
export function createContainerJobs({ runtime, store, settings, logger, clock }: JobDeps) {
  return {
    /**
     * Finishes the stop of start `startCount`. Bound to it: a record that is not `stopping` that start
     * (stopped by an event, started again, and being stopped anew) is the business of a later job.
     */
    async completeStop(id: string, startCount: number): Promise<void> {
      const record = await store.get(id);
      if (record === null || record.status !== 'stopping' || record.startCount !== startCount) return;
      const outcome = await runtime.stop(id, settings.stopTimeout);
      if (outcome === 'missing') {
        await store.remove(id);
        logger.info({ containerId: id }, 'container vanished from Docker; record forgotten');
        return;
      }
      await store.transition(id, { from: ['stopping'], startCount }, stoppedPatch(clock.now()));
    },

    /** Finishes a delete: the container (and its anonymous volumes, as the client asked), then the record. */
    async completeDelete(id: string): Promise<void> {
      const record = await store.get(id);
      if (record === null || record.status !== 'deleting') return;
      if ((await runtime.stop(id, settings.stopTimeout)) === 'stopped') await runtime.remove(id);
      await store.remove(id);
    },
  };
}

export type ContainerJobs = ReturnType<typeof createContainerJobs>;
