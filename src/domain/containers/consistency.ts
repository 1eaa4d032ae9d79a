import { unavailable } from '../errors.js';
import type { Clock, ContainerOperations, ContainerStore, JobQueue, Logger } from '../ports.js';
import { planAudit, type AuditAction } from './audit.js';
import { adoptedRecord, identityFromLabels } from './labels.js';
import type { ContainerRecord, RuntimeContainer } from './record.js';
import { startPatch, stoppedPatch } from './record.js';
import { firstCheck, type ContainerSettings } from './settings.js';

export interface ConsistencyDeps {
  readonly runtime: Pick<ContainerOperations, 'listManaged' | 'inspect' | 'remove'>;
  readonly store: ContainerStore;
  readonly queue: Pick<JobQueue, 'enqueueStop' | 'enqueueDelete'>;
  readonly clock: Clock;
  readonly settings: Pick<ContainerSettings, 'disableTimeouts' | 'initialTimeoutInterval' | 'expiryWarning'>;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
}

export interface AuditReport {
  readonly records: ContainerRecord[];
  /** Corrections that could not be made (each is logged). */
  readonly failures: number;
  /** Containers that had no record and got one rebuilt from their labels. */
  readonly adopted: number;
  /** The ids of every container of this installation the engine listed. */
  readonly containers: string[];
}

/** Marks of creates that never made a container are dropped this long after they expired. */
const MARK_KEEP_MS = 24 * 3600 * 1000;

/**
 * Keeping the records in line with Docker, which is the truth of what exists: the store is an index that is
 * rebuilt from the containers' labels whenever it lacks a record. A container without a record is adopted,
 * never destroyed, unless it is the container of a create this installation began and never finished (its
 * mark expired); a lost store loses the marks too, so then every container is adopted. Called by the worker
 * (after engine events, at start-up and periodically) and by the API's `?audit=true`.
 */
export function createConsistency({ runtime, store, queue, clock, settings, logger }: ConsistencyDeps) {
  /** A container of ours that has no record: adopt it, or remove it if its create never finished. */
  async function settleUnrecorded(actual: RuntimeContainer): Promise<'adopted' | 'removed' | 'left'> {
    const { createId } = identityFromLabels(actual);
    const record = adoptedRecord(actual, clock.now(), firstCheck(settings), settings.expiryWarning * 1000);
    const outcome = await store.adopt(record, createId, clock.now());
    if (outcome === 'adopted') {
      logger.info({ containerId: actual.id, image: record.image, status: record.status }, 'container adopted: its record was rebuilt from its labels');
      return 'adopted';
    }
    if (outcome !== 'unfinished') return 'left';
    // The server's own decision: this create never reached a record, so nobody was ever given this container.
    await runtime.remove(actual.id);
    await store.dropCreateMark(createId);
    logger.info({ containerId: actual.id, createId }, 'removed the container of a create that never finished');
    return 'removed';
  }

  /** Applies one correction; each is a compare-and-set, so a record changed meanwhile is left alone. */
  async function correct(action: AuditAction): Promise<'adopted' | undefined> {
    if (action.kind === 'unrecorded') return (await settleUnrecorded(action.actual)) === 'adopted' ? 'adopted' : undefined;
    const { record } = action;
    const guard = { from: [record.status], startCount: record.startCount };
    switch (action.kind) {
      case 'forget':
        await store.remove(record.id);
        logger.info({ containerId: record.id, status: record.status }, 'container vanished from Docker; record forgotten');
        break;
      case 'mark_stopped':
        // Stopped behind the server's back (or ended by itself) says how; a stop of ours keeps its own reason.
        await store.transition(record.id, guard, {
          ...stoppedPatch(clock.now()),
          ...(record.status === 'running' ? { stopReason: action.actual.ended ?? 'stopped outside spin-docker' } : {}),
        });
        break;
      case 'mark_running':
        await store.transition(record.id, guard, startPatch(record, action.actual, clock.now(), firstCheck(settings)));
        break;
      case 'refresh':
        await store.transition(record.id, guard, { ports: action.actual.ports, ip: action.actual.ip, node: action.actual.node });
        break;
    }
    return undefined;
  }

  /**
   * Applies every correction, each on its own: one that fails (the engine refusing one removal, say) is
   * logged and counted, and the rest are still made.
   */
  async function correctAll(actions: readonly AuditAction[]): Promise<{ failures: number; adopted: number }> {
    let failures = 0;
    let adopted = 0;
    for (const action of actions) {
      try {
        if ((await correct(action)) === 'adopted') adopted += 1;
      } catch (error) {
        failures += 1;
        const containerId = action.kind === 'unrecorded' ? action.actual.id : action.record.id;
        logger.warn({ err: error, containerId, correction: action.kind }, 'could not correct a record; the next pass will try again');
      }
    }
    return { failures, adopted };
  }

  return {
    /**
     * Re-reads every managed container from Docker (one listing) and corrects the records: forgets records
     * whose container is gone, follows stops and starts, adopts containers without a record.
     */
    async reconcileAll(): Promise<AuditReport> {
      const empty = await store.looksEmpty();
      const records = await store.list();
      const actual = await runtime.listManaged();
      const actions = planAudit(records, actual, { unrecorded: true });
      const { failures, adopted } = await correctAll(actions);
      if (empty && adopted > 0) logger.warn({ adopted }, `the store was empty: ${adopted} containers adopted`);
      await store.purgeCreateMarks(clock.now() - MARK_KEEP_MS);
      await store.recount();
      return { records: actions.length === 0 ? records : await store.list(), failures, adopted, containers: actual.map((c) => c.id) };
    },

    /**
     * Brings one container's record in line with Docker (after an engine event, or a record found missing);
     * says whether the container still exists.
     */
    async reconcileOne(id: string): Promise<'present' | 'gone'> {
      const record = await store.get(id);
      const actual = await runtime.inspect(id);
      if (record === null && actual === null) return 'gone';
      const actions =
        record === null ? [{ kind: 'unrecorded' as const, actual: actual as RuntimeContainer }] : planAudit([record], actual === null ? [] : [actual]);
      const { failures } = await correctAll(actions);
      if (failures > 0) throw unavailable('reconcile_failed', `Container ${id} could not be brought in line with Docker`);
      return actual === null ? 'gone' : 'present';
    },

    /** Of the containers the caller knows to exist, those the store has no record of (one store call). */
    unrecorded: (ids: readonly string[]) => store.unrecorded(ids),

    /** Whether the store looks freshly emptied (no version), so that the caller reconciles everything at once. */
    storeLooksEmpty: () => store.looksEmpty(),

    /**
     * Makes sure every unfinished stop and delete has a job, after a crash or a lost queue write. Safe to run
     * any time: the jobs are de-duplicated by id and idempotent.
     */
    async resumeUnfinished(): Promise<{ stops: number; deletes: number }> {
      const counts = { stops: 0, deletes: 0 };
      for (const record of await store.list()) {
        if (record.status === 'stopping') {
          await queue.enqueueStop(record.id, record.startCount);
          counts.stops += 1;
        } else if (record.status === 'deleting') {
          await queue.enqueueDelete(record.id);
          counts.deletes += 1;
        }
      }
      return counts;
    },
  };
}

export type Consistency = ReturnType<typeof createConsistency>;
