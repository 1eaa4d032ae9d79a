import { PortTakenError, conflict, notFound } from '../errors.js';
import type { Clock, ContainerOperations, ContainerStore, EventDetail, EventLog, JobQueue, Logger, RuntimeContainer } from '../ports.js';
import type { HostPortAllocator } from './host-ports.js';
import { moveTakenPort } from './port-move.js';
import type { ContainerRecord } from './record.js';
import { startPatch, stoppedPatch } from './record.js';
import { firstCheck, type ContainerSettings } from './settings.js';

/**
 * The two things a request, a job or a pass may do to a record that need both the engine and the store:
 * start its container, and ask the worker to stop it. Shared, so that every caller does them the same way.
 */
export interface ActionDeps {
  readonly runtime: Pick<ContainerOperations, 'start' | 'recreate' | 'inspect'>;
  readonly store: ContainerStore;
  readonly queue: Pick<JobQueue, 'enqueueStop'>;
  readonly clock: Clock;
  readonly settings: Pick<ContainerSettings, 'disableTimeouts' | 'initialTimeoutInterval' | 'orphanGrace'>;
  /** Where a sleeping container's start asks the listeners on its ports to hand them back. */
  readonly events: Pick<EventLog, 'publish'>;
  readonly hostPorts: HostPortAllocator;
  readonly logger: Pick<Logger, 'warn'> & Partial<Pick<Logger, 'debug'>>;
}

/** How long a start waits for the listeners on a sleeping container's ports to let go of them. */
const HAND_BACK_MS = 3_000;

export const missingContainer = (id: string) => notFound('container_not_found', `Container ${id} doesn't exist`);

/**
 * Asks the worker to stop a running container; the record says `stopping` from now on. Null when the record
 * changed meanwhile (it is not running that start any more).
 */
export async function requestStop(
  { store, queue }: Pick<ActionDeps, 'store' | 'queue'>,
  record: ContainerRecord,
  reason: string,
): Promise<ContainerRecord | null> {
  const result = await store.transition(
    record.id,
    { from: ['running'], startCount: record.startCount },
    { status: 'stopping', nextCheckAt: null, stopReason: reason },
  );
  if (result.outcome !== 'applied') return null;
  await queue.enqueueStop(record.id, record.startCount);
  return result.record;
}

/**
 * Asks the worker to delete a container that is not being deleted yet, for `reason` (kept as its stop reason,
 * and told with its `container.deleting`). Guarded by its status and start: one started again meanwhile is left.
 */
export async function requestDeletion(
  { store, queue }: Pick<ActionDeps, 'store'> & { readonly queue: Pick<JobQueue, 'enqueueDelete'> },
  record: ContainerRecord,
  reason: string,
): Promise<boolean> {
  const result = await store.transition(
    record.id,
    { from: [record.status], startCount: record.startCount },
    { status: 'deleting', nextCheckAt: null, stopReason: reason },
  );
  if (result.outcome !== 'applied') return false;
  await queue.enqueueDelete(record.id);
  return true;
}

/**
 * Starts a sleeping container's container: first the listeners holding its host ports (the worker's, on its
 * host) are told to hand them back (`container.waking`), then the engine is asked, again while they have not
 * let go yet. `detail` says what woke it.
 */
async function startHandingBack(deps: ActionDeps, record: ContainerRecord, detail: EventDetail): Promise<RuntimeContainer | null> {
  const { runtime, events, clock } = deps;
  if (!record.wakeOnConnect) return runtime.start(record.id);
  await events.publish({ type: 'container.waking', record, detail });
  const giveUpAt = clock.now() + HAND_BACK_MS;
  for (;;) {
    try {
      return await runtime.start(record.id);
    } catch (error) {
      if (!(error instanceof PortTakenError) || clock.now() > giveUpAt) throw error;
      deps.logger.debug?.({ containerId: record.id, port: error.port }, 'its port is not handed back yet; starting again');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * Starts a stopped container and records the new start, on the same ports; a record whose container is gone is
 * forgotten. `detail` says what asked for it (a PATCH, a connection that woke it).
 */
export async function startContainer(deps: ActionDeps, given: ContainerRecord, detail: EventDetail = { peer: 'request' }): Promise<ContainerRecord> {
  const { store, clock, settings } = deps;
  let record = given;
  let actual: RuntimeContainer | null;
  for (let moves = 0; ; moves += 1) {
    try {
      actual = await startHandingBack(deps, record, detail);
      break;
    } catch (error) {
      if (!(error instanceof PortTakenError) || moves >= Object.keys(record.ports).length) throw error;
      record = await moveTakenPort(deps, record, error);
    }
  }
  if (actual === null) {
    await store.remove(record.id);
    throw missingContainer(record.id);
  }
  const result = await store.transition(
    record.id,
    { from: ['stopped'], startCount: record.startCount },
    startPatch(record, actual, clock.now(), firstCheck(settings)),
  );
  if (result.outcome === 'missing') throw missingContainer(record.id);
  if (result.outcome === 'refused') {
    // Another start won the race: its record is the answer. Anything else changed under us.
    if (result.record.status === 'running') return result.record;
    throw conflict('status_conflict', `Container ${record.id} ${result.record.status === 'deleting' ? 'is being deleted' : 'changed while starting'}`);
  }
  return confirmRunning(deps, result.record);
}

/**
 * A record just written `running` from what the engine said a moment before: asks the engine once more. A
 * command that ended between that answer and the write has already had its engine event, and the worker saw
 * the record still stopped then and had nothing to do, so nobody else would set it right until the next full
 * pass (a wake waited on it for its whole timeout). An end after this look has its own event, seen after the
 * write.
 */
export async function confirmRunning(deps: Pick<ActionDeps, 'runtime' | 'store' | 'clock' | 'logger'>, record: ContainerRecord): Promise<ContainerRecord> {
  if (record.status !== 'running') return record;
  try {
    const now = await deps.runtime.inspect(record.id);
    if (now === null || now.running) return record;
    const ended = await deps.store.transition(
      record.id,
      { from: ['running'], startCount: record.startCount },
      { ...stoppedPatch(deps.clock.now()), stopReason: now.ended ?? 'exited' },
    );
    return ended.outcome === 'missing' ? record : ended.record;
  } catch (error) {
    // Only a second look: the start itself succeeded, and the next full pass corrects the record if need be.
    deps.logger.warn({ err: error, containerId: record.id }, 'could not look at a started container again; its record stays running');
    return record;
  }
}
