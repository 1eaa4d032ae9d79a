import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { PortTakenError, conflict, forbidden, invalid, notFound } from '../errors.js';
import type { Clock, ContainerOperations, ContainerStore, EventLog, ImageOperations, JobQueue, LogOptions } from '../ports.js';
import { confirmRunning, missingContainer, requestStop, startContainer } from './actions.js';
import type { HostPortAllocator } from './host-ports.js';
import { formatDuration } from '../durations.js';
import { identityLabels } from './labels.js';
import { imageAllowed } from '../images/references.js';
import type { AuthorizedKey } from './options.js';
import type { ContainerRecord, PortMap, StatusRequest } from './record.js';
import { planStatusChange, startPatch } from './record.js';
import { firstCheck, type ContainerSettings } from './settings.js';
import { hashToken, newToken } from './tokens.js';

/** What a client may set on a new container besides its image (validated at the edge, see options.ts). */
export interface CreateOptions {
  readonly sshKeys?: readonly AuthorizedKey[];
  readonly env?: Readonly<Record<string, string>>;
  /** Whether a connection wakes it while stopped (default SD_WAKE_ON_CONNECT). */
  readonly wake?: boolean;
  /** Seconds after which it is stopped whatever its activity (at most SD_MAX_LIFETIME). */
  readonly stopAfter?: number;
  /** Seconds after which it is deleted whatever its state. */
  readonly deleteAfter?: number;
}

export interface RequestDeps {
  readonly runtime: Pick<ContainerOperations, 'createAndStart' | 'start' | 'recreate' | 'remove' | 'logs' | 'inspect'> & Pick<ImageOperations, 'exposedPorts'>;
  readonly store: ContainerStore;
  readonly queue: Pick<JobQueue, 'enqueueStop' | 'enqueueDelete'>;
  readonly clock: Clock;
  readonly settings: Pick<
    ContainerSettings,
    | 'disableTimeouts'
    | 'initialTimeoutInterval'
    | 'checkinUrl'
    | 'allowedImages'
    | 'defaultSshKeys'
    | 'orphanGrace'
    | 'maxPorts'
    | 'wakeOnConnect'
    | 'maxLifetime'
    | 'maxContainers'
  >;
  /** Where new containers' host ports come from. */
  readonly hostPorts: HostPortAllocator;
  readonly events: Pick<EventLog, 'publish'>;
  readonly logger: { warn(details: object, message: string): void };
}

const FULL_ID = /^[0-9a-f]{64}$/;
/** A prefix of a container's id (hex), or of a swarm service's (Docker's base 36: lowercase letters and digits). */
const SHORT_ID = /^[0-9a-z]{4,63}$/;

/** The use cases a client's HTTP request calls: read, create, start, stop and delete containers. */
export function createContainerRequests(deps: RequestDeps) {
  const { runtime, store, queue, clock, settings, logger, hostPorts } = deps;

  /**
   * A container id as a client may write it: the full 64-hex id (a swarm service's full id is its own prefix),
   * or a unique prefix of at least 4 characters, as Docker takes them. An ambiguous prefix is the client's to fix (400).
   */
  async function resolveId(given: string): Promise<string> {
    if (FULL_ID.test(given)) return given;
    if (!SHORT_ID.test(given)) throw missingContainer(given);
    const matches = await store.resolvePrefix(given);
    if (matches.length === 0) throw missingContainer(given);
    if (matches.length > 1) throw invalid('ambiguous_id', `More than one container id starts with ${given}; give more of it`);
    return matches[0] as string;
  }

  /** A container by its id; one made anew on other ports (port-move.ts) answers to its former id too. */
  async function get(id: string): Promise<ContainerRecord> {
    const record = (await store.get(id)) ?? (await moved(id));
    if (record === null) throw missingContainer(id);
    return record;
  }

  async function moved(id: string): Promise<ContainerRecord | null> {
    const current = await store.aliasOf(id);
    return current === null ? null : store.get(current);
  }

  async function create(image: string, options: CreateOptions = {}): Promise<ContainerRecord> {
    if (!imageAllowed(image, settings.allowedImages)) throw forbidden('image_not_allowed', `Image ${image} is not allowed on this server (SD_ALLOWED_IMAGES)`);
    const exposed = await runtime.exposedPorts(image);
    if (exposed === null) throw notFound('image_not_found', `Image ${image} not found on this server`);
    if (exposed.length > settings.maxPorts) {
      throw invalid(
        'too_many_ports',
        `Image ${image} exposes ${exposed.length} ports; this server publishes at most ${settings.maxPorts} per container (SD_MAX_PORTS)`,
      );
    }
    const token = newToken();
    const sshKeys = options.sshKeys ?? settings.defaultSshKeys;
    // The client's variables first: the server's own (SD_*) can never be overridden (and are refused earlier).
    const env: Record<string, string> = { ...options.env, SD_CHECKIN_TOKEN: token };
    if (settings.checkinUrl !== undefined) env.SD_CHECKIN_URL = settings.checkinUrl;
    if (sshKeys.length > 0) env.SD_SSH_AUTHORIZED_KEYS = sshKeys.map((key) => key.line).join('\n');
    const ceiling = settings.maxLifetime;
    if (options.stopAfter !== undefined && ceiling !== null && options.stopAfter > ceiling) {
      throw invalid(
        'over_ceiling',
        `stop_after ${formatDuration(options.stopAfter)} is over this server's ceiling of ${formatDuration(ceiling)} (SD_MAX_LIFETIME)`,
      );
    }
    const createId = randomBytes(8).toString('hex');
    const createdAt = clock.now();
    const stopAfter = options.stopAfter ?? ceiling;
    const deadlines = {
      stopAt: stopAfter === null ? null : createdAt + stopAfter * 1000,
      deleteAt: options.deleteAfter === undefined ? null : createdAt + options.deleteAfter * 1000,
    };
    // Marked before the engine makes anything: should this process die before the record is stored, the
    // worker knows the container for an unfinished create's once the mark expires, and removes it.
    const limit = settings.maxContainers > 0 ? { atMost: settings.maxContainers, now: createdAt } : undefined;
    if (!(await store.markCreate(createId, createdAt + settings.orphanGrace * 1000, limit))) {
      throw forbidden(
        'too_many_containers',
        `This server keeps at most ${settings.maxContainers} containers (SD_MAX_CONTAINERS), running or stopped: delete one first`,
      );
    }
    const started = await createOnFreePorts(exposed, createId, (ports) => {
      const identity = {
        createId,
        image,
        createdAt,
        tokenHash: hashToken(token),
        sshKeys: sshKeys.map((key) => key.fingerprint),
        ports,
        wakeOnConnect: options.wake ?? settings.wakeOnConnect,
        ...deadlines,
      };
      return runtime.createAndStart({ image, env, labels: identityLabels(identity), ports }).then((actual) => ({ actual, identity }));
    });
    const { actual, identity } = started;
    const record: ContainerRecord = {
      id: actual.id,
      name: actual.name,
      image,
      createdAt,
      tokenHash: identity.tokenHash,
      sshKeys: identity.sshKeys,
      wakeOnConnect: identity.wakeOnConnect,
      ports: identity.ports,
      ...deadlines,
      extendedUntil: null,
      warnedFor: null,
      ...startPatch({ startCount: 0 }, actual, clock.now(), firstCheck(settings)),
    };
    try {
      await store.insert(record, createId);
    } catch (error) {
      // Without a record nobody could ever manage this container: take it away again (the mark stays, so
      // should this removal fail too, the worker removes it once the mark expires).
      await runtime.remove(actual.id).catch((removeError: unknown) => {
        logger.warn({ err: removeError, containerId: actual.id }, 'could not remove a container after a failed insert');
      });
      throw error;
    }
    return confirmRunning(deps, record);
  }

  /**
   * Creates on host ports of the range; a port the engine finds taken after all (something began to listen on
   * it since it was looked at) is noted and the create made again on others.
   */
  async function createOnFreePorts<T>(exposed: readonly string[], createId: string, create: (ports: PortMap) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      const ports = await hostPorts.allocate(exposed, createId);
      try {
        return await create(ports);
      } catch (error) {
        await hostPorts.release(createId, ports).catch(() => undefined);
        if (!(error instanceof PortTakenError) || attempt >= 3) throw error;
        await hostPorts.markTaken(error);
        logger.warn({ port: error.port, createId }, 'a host port was taken after all; creating on another');
      }
    }
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
        return startContainer(deps, record);
      case 'stop':
        // Refused: the record changed between our read and write; answer with what it is now.
        return (await requestStop(deps, record, 'requested')) ?? get(id);
    }
  }

  /**
   * Keeps a running container up for `seconds` more: its stop deadline (if it has one) moves that far, and until
   * then it counts as in use. Never past SD_MAX_LIFETIME from now (a 400 that says the ceiling).
   */
  async function extend(id: string, seconds: number): Promise<ContainerRecord> {
    const record = await get(id);
    if (record.status !== 'running') throw conflict('not_running', `Container ${record.id} is ${record.status}: only a running container can be extended`);
    const now = clock.now();
    const until = now + seconds * 1000;
    const stopAt = record.stopAt === null ? null : Math.max(record.stopAt, now) + seconds * 1000;
    const ceiling = settings.maxLifetime;
    if (ceiling !== null && (stopAt ?? until) > now + ceiling * 1000) {
      const room = Math.max(0, Math.floor((now + ceiling * 1000 - (record.stopAt ?? now)) / 1000));
      throw invalid(
        'over_ceiling',
        `Extending by ${formatDuration(seconds)} would keep it past this server's ceiling of ${formatDuration(ceiling)} from now (SD_MAX_LIFETIME); at most ${formatDuration(room)} more`,
      );
    }
    const result = await store.transition(
      record.id,
      { from: ['running'], startCount: record.startCount },
      // The next warning is for the new deadline.
      { stopAt, extendedUntil: Math.max(until, record.extendedUntil ?? 0), warnedFor: null },
    );
    if (result.outcome === 'missing') throw missingContainer(id);
    if (result.outcome === 'refused') throw conflict('status_conflict', `Container ${record.id} changed while being extended`);
    return result.record;
  }

  async function requestDelete(given: string): Promise<void> {
    const deleting = { status: 'deleting', nextCheckAt: null } as const;
    let id = given;
    let result = await store.transition(id, {}, deleting);
    if (result.outcome === 'missing') {
      id = (await moved(given))?.id ?? given;
      if (id !== given) result = await store.transition(id, {}, deleting);
    }
    if (result.outcome === 'missing') throw missingContainer(given);
    await queue.enqueueDelete(id);
  }

  /** A container's output; the record must exist (and the engine only shows containers of this installation). */
  async function logs(id: string, options: LogOptions, signal: AbortSignal): Promise<Readable> {
    const record = await get(id);
    return runtime.logs(record.id, options, signal);
  }

  return {
    resolveId,
    get,
    /** Every record with the version it is at; with `version()`, lets a reader reuse what it built last. */
    listAt: () => store.listAt(),
    version: () => store.version(),
    onStoreReset: (listener: () => void) => store.onReset(listener),
    create,
    changeStatus,
    extend,
    requestDelete,
    logs,
  };
}

export type ContainerRequests = ReturnType<typeof createContainerRequests>;
