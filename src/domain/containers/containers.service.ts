import { createHash, randomBytes } from 'node:crypto';
import { decideCheck, firstCheckAt } from '../activity/idle-rule.js';
import { conflict, forbidden, invalid, notFound, unavailable } from '../errors.js';
import type { Clock, ContainerRuntime, ContainerStore, JobQueue, LogOptions, ScheduledCheck } from '../ports.js';
import { planAudit, type AuditAction } from './audit.js';
import { imageAllowed, type AuthorizedKey } from './options.js';
import type { ContainerRecord, RuntimeContainer, StatusRequest } from './record.js';
import { planStatusChange } from './record.js';

export interface ContainerSettings {
  readonly disableTimeouts: boolean;
  /** Seconds from a start to the first activity check. */
  readonly initialTimeoutInterval: number;
  /** Seconds between checks. */
  readonly timeoutInterval: number;
  /** Which signs of activity count at a check. */
  readonly activitySources: { readonly observed: boolean; readonly reported: boolean };
  /** Seconds Docker waits after SIGTERM. */
  readonly stopTimeout: number;
  /** Handed to every container as SD_CHECKIN_URL, when known. */
  readonly checkinUrl: string | undefined;
  /** Seconds a labelled container may exist without a record (a create in progress) before it is an orphan. */
  readonly orphanGrace: number;
  /** Patterns every image created from must match (`*` wildcards). */
  readonly allowedImages: readonly string[];
  /** Keys for containers created without any (SD_SSH_AUTHORIZED_KEYS_FILE). */
  readonly defaultSshKeys: readonly AuthorizedKey[];
}

/** The little the domain logs: things that went wrong but were handled. */
export interface DomainLogger {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

export interface ContainerServiceDeps {
  readonly runtime: ContainerRuntime;
  readonly store: ContainerStore;
  readonly queue: JobQueue;
  readonly clock: Clock;
  readonly settings: ContainerSettings;
  readonly logger: DomainLogger;
}

/** What a record says once its container no longer runs. */
const STOPPED = { status: 'stopped', ports: {}, ip: '', pid: 0, active: 0, strikes: 0, connections: null, nextCheckAt: null } as const;

export type CheckOutcome = 'disabled' | 'stale' | 'rescheduled' | 'stopping';

/** What a client may set on a new container besides its image (validated at the edge, see options.ts). */
export interface CreateOptions {
  readonly sshKeys?: readonly AuthorizedKey[];
  readonly env?: Readonly<Record<string, string>>;
}

export interface AuditReport {
  readonly records: ContainerRecord[];
  /** Corrections that could not be made (each is logged). */
  readonly failures: number;
}

/** Tokens are stored only as their SHA-256, so that the store never holds a usable secret. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

const missing = (id: string) => notFound('container_not_found', `Container ${id} doesn't exist`);
const FULL_ID = /^[0-9a-f]{64}$/;
const SHORT_ID = /^[0-9a-f]{4,63}$/;

/** The use cases of managed containers. Both processes use it: the API for requests, the worker for jobs. */
export function createContainerService({ runtime, store, queue, clock, settings, logger }: ContainerServiceDeps) {
  /**
   * A container id as a client may write it: the full 64-hex id, or a unique prefix of at least 4 hex
   * characters, as Docker takes them. An ambiguous prefix is the client's to fix (400).
   */
  async function resolveId(given: string): Promise<string> {
    if (FULL_ID.test(given)) return given;
    if (!SHORT_ID.test(given)) throw missing(given);
    const matches = await store.resolvePrefix(given);
    if (matches.length === 0) throw missing(given);
    if (matches.length > 1) throw invalid('ambiguous_id', `More than one container id starts with ${given}; give more of it`);
    return matches[0] as string;
  }

  async function get(id: string): Promise<ContainerRecord> {
    const record = await store.get(id);
    if (record === null) throw missing(id);
    return record;
  }

  function pendingCheck(record: ContainerRecord): ScheduledCheck | null {
    return record.nextCheckAt === null ? null : { id: record.id, run: record.run, at: record.nextCheckAt };
  }

  /** Queues the record's pending check. A failure is only logged: the worker's reconciliation re-queues it. */
  async function schedulePendingCheck(record: ContainerRecord): Promise<void> {
    const check = pendingCheck(record);
    if (check === null) return;
    try {
      await queue.scheduleCheck(check);
    } catch (error) {
      logger.warn({ err: error, containerId: record.id }, 'could not queue the activity check; reconciliation will');
    }
  }

  async function cancelPendingCheck(record: ContainerRecord): Promise<void> {
    const check = pendingCheck(record);
    if (check === null) return;
    try {
      await queue.cancelCheck(check);
    } catch (error) {
      // Harmless: a leftover check sees a different run or status and does nothing.
      logger.warn({ err: error, containerId: record.id }, 'could not cancel a pending activity check');
    }
  }

  /**
   * The fields of a freshly started run. A command that exits at once leaves a stopped container by the time
   * Docker is asked: say so rather than "running" with no ports.
   */
  function startedRun(record: Pick<ContainerRecord, 'run'>, actual: RuntimeContainer, now: number) {
    const run = { run: record.run + 1, active: 0, checkinAt: null, strikes: 0, connections: null, observedAt: null };
    if (!actual.running) return { ...run, ...STOPPED };
    return {
      ...run,
      status: 'running' as const,
      ports: actual.ports,
      ip: actual.ip,
      pid: actual.pid,
      nextCheckAt: settings.disableTimeouts ? null : firstCheckAt(now, settings.initialTimeoutInterval),
    };
  }

  async function create(image: string, options: CreateOptions = {}): Promise<ContainerRecord> {
    if (!imageAllowed(image, settings.allowedImages)) throw forbidden('image_not_allowed', `Image ${image} is not allowed on this server (SD_ALLOWED_IMAGES)`);
    if (!(await runtime.imageExists(image))) throw notFound('image_not_found', `Image ${image} not found on this server`);
    const token = randomBytes(24).toString('base64url');
    const sshKeys = options.sshKeys ?? settings.defaultSshKeys;
    // The client's variables first: the server's own (SD_*) can never be overridden (and are refused earlier).
    const env: Record<string, string> = { ...options.env, SD_CHECKIN_TOKEN: token };
    if (settings.checkinUrl !== undefined) env.SD_CHECKIN_URL = settings.checkinUrl;
    if (sshKeys.length > 0) env.SD_SSH_AUTHORIZED_KEYS = sshKeys.map((key) => key.line).join('\n');
    const actual = await runtime.run({ image, env });
    const now = clock.now();
    const record: ContainerRecord = {
      id: actual.id,
      name: actual.name,
      image,
      createdAt: now,
      tokenHash: hashToken(token),
      sshKeys: sshKeys.map((key) => key.fingerprint),
      ...startedRun({ run: 0 }, actual, now),
    };
    try {
      await store.insert(record);
    } catch (error) {
      // Without a record nobody could ever manage this container: take it away again.
      await runtime.remove(actual.id).catch((removeError: unknown) => {
        logger.warn({ err: removeError, containerId: actual.id }, 'could not remove a container after a failed insert');
      });
      throw error;
    }
    await schedulePendingCheck(record);
    return record;
  }

  /** Asks the worker to stop a running container; the record says `stopping` from now on. */
  async function requestStop(record: ContainerRecord): Promise<ContainerRecord | null> {
    const result = await store.transition(record.id, { from: ['running'], run: record.run }, { status: 'stopping', nextCheckAt: null });
    if (result.outcome !== 'applied') return null;
    await cancelPendingCheck(record);
    await queue.enqueueStop(record.id, record.run);
    return result.record;
  }

  async function start(record: ContainerRecord): Promise<ContainerRecord> {
    const actual = await runtime.start(record.id);
    if (actual === null) {
      await store.remove(record.id);
      throw missing(record.id);
    }
    const result = await store.transition(
      record.id,
      { from: ['stopped'], run: record.run },
      startedRun(record, actual, clock.now()),
    );
    if (result.outcome === 'missing') throw missing(record.id);
    if (result.outcome === 'refused') {
      // Another start won the race: its record is the answer. Anything else changed under us.
      if (result.record.status === 'running') return result.record;
      throw conflict('status_conflict', `Container ${record.id} ${result.record.status === 'deleting' ? 'is being deleted' : 'changed while starting'}`);
    }
    await schedulePendingCheck(result.record);
    return result.record;
  }

  async function changeStatus(id: string, wanted: StatusRequest): Promise<ContainerRecord> {
    const record = await get(id);
    const plan = planStatusChange(record.status, wanted);
    switch (plan.kind) {
      case 'unchanged':
        return record;
      case 'refuse':
        throw conflict('status_conflict', `Container ${id} ${plan.reason}`);
      case 'start':
        return start(record);
      case 'stop': {
        const stopping = await requestStop(record);
        // Refused: the record changed between our read and write; answer with what it is now.
        return stopping ?? get(id);
      }
    }
  }

  async function requestDelete(id: string): Promise<void> {
    const record = await get(id);
    const result = await store.transition(id, {}, { status: 'deleting', nextCheckAt: null });
    if (result.outcome === 'missing') throw missing(id);
    await cancelPendingCheck(record);
    await queue.enqueueDelete(id);
  }

  /**
   * Worker: finishes the stop of run `run`. Idempotent, and bound to its run: a record that is not `stopping`
   * that run (stopped by an event, started again, and being stopped anew) is the business of a later job.
   */
  async function completeStop(id: string, run: number): Promise<void> {
    const record = await store.get(id);
    if (record === null || record.status !== 'stopping' || record.run !== run) return;
    const outcome = await runtime.stop(id, settings.stopTimeout);
    if (outcome === 'missing') {
      await store.remove(id);
      logger.info({ containerId: id }, 'container vanished from Docker; record forgotten');
      return;
    }
    await store.transition(id, { from: ['stopping'], run }, STOPPED);
  }

  /** Worker: finishes a delete. Idempotent: a record already gone is fine. */
  async function completeDelete(id: string): Promise<void> {
    const record = await store.get(id);
    if (record === null || record.status !== 'deleting') return;
    if ((await runtime.stop(id, settings.stopTimeout)) === 'stopped') await runtime.remove(id);
    await store.remove(id);
  }

  /** Worker: one activity check. A check that is not the record's pending one (an earlier run's) does nothing. */
  async function runCheck(check: ScheduledCheck): Promise<CheckOutcome> {
    if (settings.disableTimeouts) return 'disabled';
    const record = await store.get(check.id);
    if (record === null || record.status !== 'running' || record.run !== check.run || record.nextCheckAt !== check.at) {
      return 'stale';
    }
    const decision = decideCheck(record, clock.now(), settings);
    if (decision.kind === 'stop') return (await requestStop(record)) === null ? 'stale' : 'stopping';
    // Queue first, then record: a crash in between leaves a stale job behind, never a container unwatched.
    await queue.scheduleCheck({ id: check.id, run: check.run, at: decision.nextCheckAt });
    const result = await store.transition(
      check.id,
      { from: ['running'], run: check.run },
      { strikes: decision.strikes, nextCheckAt: decision.nextCheckAt },
    );
    return result.outcome === 'applied' ? 'rescheduled' : 'stale';
  }

  /** Applies one audit correction; each is a compare-and-set, so a record changed meanwhile is left alone. */
  async function correct(action: AuditAction): Promise<void> {
    if (action.kind === 'remove_orphan') {
      await runtime.remove(action.actual.id);
      logger.info({ containerId: action.actual.id }, 'orphaned container (no record) removed');
      return;
    }
    const { record } = action;
    const guard = { from: [record.status], run: record.run };
    switch (action.kind) {
      case 'forget':
        await store.remove(record.id);
        await cancelPendingCheck(record);
        logger.info({ containerId: record.id, status: record.status }, 'container vanished from Docker; record forgotten');
        break;
      case 'mark_stopped':
        if ((await store.transition(record.id, guard, STOPPED)).outcome === 'applied') {
          await cancelPendingCheck(record);
        }
        break;
      case 'mark_running': {
        const result = await store.transition(record.id, guard, startedRun(record, action.actual, clock.now()));
        if (result.outcome === 'applied') await schedulePendingCheck(result.record);
        break;
      }
      case 'refresh':
        await store.transition(record.id, guard, { ports: action.actual.ports, ip: action.actual.ip });
        break;
    }
  }

  /**
   * Applies every correction, each on its own: one that fails (the engine refusing one removal, say) is
   * logged and counted, and the rest are still made.
   */
  async function correctAll(actions: readonly AuditAction[]): Promise<number> {
    let failures = 0;
    for (const action of actions) {
      try {
        await correct(action);
      } catch (error) {
        failures += 1;
        const containerId = action.kind === 'remove_orphan' ? action.actual.id : action.record.id;
        logger.warn({ err: error, containerId, correction: action.kind }, 'could not correct a record; the next pass will try again');
      }
    }
    return failures;
  }

  /**
   * Re-reads every managed container from Docker (one listing), corrects the records and removes orphans
   * older than the grace period; returns the corrected list and how many corrections failed.
   */
  async function audit(): Promise<AuditReport> {
    const records = await store.list();
    const actual = await runtime.listManaged();
    const actions = planAudit(records, actual, { orphansCreatedBefore: clock.now() - settings.orphanGrace * 1000 });
    const failures = await correctAll(actions);
    return { records: actions.length === 0 ? records : await store.list(), failures };
  }

  /** Brings one record in line with Docker (after an engine event). A container without a record is left to audit(). */
  async function reconcile(id: string): Promise<void> {
    const record = await store.get(id);
    if (record === null) return;
    const actual = await runtime.inspect(id);
    const failures = await correctAll(planAudit([record], actual === null ? [] : [actual]));
    if (failures > 0) throw unavailable('reconcile_failed', `Container ${id} could not be brought in line with Docker`);
  }

  /**
   * Worker: makes sure every unfinished piece of work has a job, after a crash or a lost queue write.
   * `everything` (at start-up) re-queues every pending check; the periodic pass only those overdue by more
   * than `graceMs`, whose job must be missing, so that it stays cheap with thousands of containers.
   * Safe to run any time: stop, delete and check jobs are de-duplicated by id and idempotent.
   */
  async function resumePending(options: { everything: boolean; graceMs?: number }): Promise<{ stops: number; deletes: number; checks: number }> {
    const counts = { stops: 0, deletes: 0, checks: 0 };
    const overdueBefore = clock.now() - (options.graceMs ?? 60_000);
    for (const record of await store.list()) {
      if (record.status === 'stopping') {
        await queue.enqueueStop(record.id, record.run);
        counts.stops += 1;
      } else if (record.status === 'deleting') {
        await queue.enqueueDelete(record.id);
        counts.deletes += 1;
      } else if (record.status === 'running' && !settings.disableTimeouts) {
        let current = record;
        if (record.nextCheckAt === null) {
          // Timeouts were off when it started: watch it from now on.
          const result = await store.transition(record.id, { from: ['running'], run: record.run }, {
            nextCheckAt: firstCheckAt(clock.now(), settings.timeoutInterval),
          });
          if (result.outcome !== 'applied') continue;
          current = result.record;
        } else if (!options.everything && record.nextCheckAt > overdueBefore) {
          continue;
        }
        await schedulePendingCheck(current);
        counts.checks += 1;
      }
    }
    return counts;
  }

  /** A check-in names its container by token (when it carries one) or by the sender's address. */
  async function checkIn(ip: string, token: string | undefined, active: number): Promise<void> {
    const outcome = await store.checkIn(ip, token === undefined ? undefined : hashToken(token), active, clock.now());
    if (outcome === 'refused') throw forbidden('invalid_token', 'The check-in token does not belong to the sending container');
    if (outcome === 'unknown') {
      throw notFound('unknown_address', token === undefined ? `No running container has the address ${ip}` : 'The container of this token is not running');
    }
  }

  /** A container's output; the record must exist (and the engine only shows containers of this installation). */
  async function logs(id: string, options: LogOptions, signal: AbortSignal): Promise<NodeJS.ReadableStream> {
    await get(id);
    return runtime.logs(id, options, signal);
  }

  return {
    logs,
    list: () => store.list(),
    /** Every record with the version it is at; with `version()`, lets a reader reuse what it built last. */
    listAt: () => store.listAt(),
    version: () => store.version(),
    onStoreReset: (listener: () => void) => store.onReset(listener),
    get,
    resolveId,
    create,
    changeStatus,
    requestDelete,
    checkIn,
    completeStop,
    completeDelete,
    runCheck,
    audit,
    reconcile,
    resumePending,
  };
}

export type ContainerService = ReturnType<typeof createContainerService>;
