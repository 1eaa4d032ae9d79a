import { conflict, unavailable } from '../errors.js';
import type { EventLog, Logger } from '../ports.js';
import { missingContainer, startContainer, type ActionDeps } from './actions.js';
import type { ContainerRecord } from './record.js';

export interface WakeDeps extends ActionDeps {
  readonly events: Pick<EventLog, 'publish'>;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
}

/** What woke it: the host port a client connected to, and from where. */
export interface WakeTrigger {
  readonly port: number;
  readonly peer: string;
}

/**
 * Waking a sleeping container: a stopped container whose port someone connected to is started exactly as
 * `PATCH status=running` starts it (same ports, a fresh idle schedule), and the connection counts as activity.
 * The per-host part that holds the connections (worker/sleepers.ts) calls it and tells how it went.
 */
export function createWake(deps: WakeDeps) {
  const { store, events, clock, logger } = deps;
  const tell = (type: 'container.woken' | 'container.wake_failed', record: ContainerRecord, detail: Record<string, string | number>) =>
    events.publish({ type, record, detail }).catch((error: unknown) => logger.warn({ err: error, type }, 'an event could not be published'));

  return {
    /** Starts a sleeping container for `trigger`; a running one is the answer as it is. */
    async wake(id: string, trigger: WakeTrigger): Promise<ContainerRecord> {
      const record = await store.get(id);
      if (record === null) throw missingContainer(id);
      if (record.status === 'running') return record;
      if (record.status !== 'stopped') throw conflict('status_conflict', `Container ${id} is ${record.status}`);
      logger.info({ containerId: id, port: trigger.port, peer: trigger.peer }, 'waking a sleeping container');
      const started = await startContainer(deps, record, { port: trigger.port, peer: trigger.peer });
      if (started.status !== 'running') throw unavailable('wake_failed', 'Its command ended as soon as it started');
      // The connection that woke it is a sign of use, as one a sample sees.
      const now = clock.now();
      const seen = await store.transition(id, { from: ['running'], startCount: started.startCount }, { observedAt: now });
      return seen.outcome === 'applied' ? seen.record : started;
    },

    /** It answers: `seconds` from the first held connection until it accepted. */
    woken: (record: ContainerRecord, seconds: number) => tell('container.woken', record, { seconds: Math.round(seconds * 1000) / 1000 }),

    /** The held connections were closed, for `reason`; a container left stopped keeps it as its stop reason. */
    async failed(record: ContainerRecord, reason: string): Promise<void> {
      const kept = await store.transition(record.id, { from: ['stopped'] }, { stopReason: `wake failed: ${reason}` }).catch(() => null);
      await tell('container.wake_failed', kept?.outcome === 'applied' ? kept.record : record, { reason });
    },
  };
}

export type Wake = ReturnType<typeof createWake>;
