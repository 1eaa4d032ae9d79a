import type { Readable } from 'node:stream';
import type { ContainerRecord, ContainerStatus, PortMap, RuntimeContainer } from './containers/record.js';

/**
 * The interfaces the domain needs from the outside world. Each is implemented by one adapter (adapters/<tech>/);
 * every method throws DomainError('unavailable') when its system cannot be reached.
 */

/** The little the domain logs: things that went wrong but were handled, and what it did by itself. */
export interface Logger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface Clock {
  now(): number;
}

/** A container's life on the engine (adapters/docker: containers.ts). */
export interface ContainerOperations {
  /**
   * Creates a container with this installation's label and `spec.labels`, every exposed port published, starts
   * it and returns what the engine says. A container that was created but could not start is removed again.
   */
  createAndStart(spec: CreateSpec): Promise<RuntimeContainer>;
  /**
   * Makes a stopped container anew with other host ports (Docker cannot change a container's bindings): its
   * file system, volumes, settings and labels (with `labels` on top) carried over, under a new id; the old one
   * is removed. Returns the new, stopped container.
   */
  recreate(id: string, changes: { readonly ports: PortMap; readonly labels: Readonly<Record<string, string>> }): Promise<RuntimeContainer>;
  /**
   * Whether a running container is ready for its clients: its image's health check (HEALTHCHECK), run at once
   * rather than at Docker's next interval, succeeds; true for an image that has none.
   */
  ready(id: string): Promise<boolean>;
  /** Starts a stopped container (a running one is fine) and returns it; null when it no longer exists. */
  start(id: string): Promise<RuntimeContainer | null>;
  /** Stops a container, waiting `timeoutSeconds` before SIGKILL. 'missing' when it no longer exists. */
  stop(id: string, timeoutSeconds: number): Promise<'stopped' | 'missing'>;
  /**
   * Removes a container, stopping it first if needed; gone already is fine. Its anonymous volumes go with it:
   * call this only for a container the server itself decided to delete.
   */
  remove(id: string): Promise<void>;
  /**
   * A container's output (stdout and stderr, demultiplexed), the last `tail` lines (or all), then, with
   * `follow`, whatever comes until the container stops or `signal` aborts (the engine's stream is dropped then).
   */
  logs(id: string, options: LogOptions, signal: AbortSignal): Promise<Readable>;
  /** Every container carrying this installation's label, running or not. One engine call. */
  listManaged(): Promise<RuntimeContainer[]>;
  /** What the engine says about one of this installation's containers now; null when it is gone or not ours. */
  inspect(id: string): Promise<RuntimeContainer | null>;
}

/** The engine's images (adapters/docker: images.ts). */
export interface ImageOperations {
  /** Every tagged image as "repository:tag". */
  listImages(): Promise<string[]>;
  /**
   * Pulls an image, handing on every progress line; rejects with the engine's message when the pull fails
   * (an error in the stream included), after `timeoutMs`, or when `signal` aborts (with its reason); the
   * engine stops pulling when the request is dropped.
   */
  pullImage(
    reference: string,
    auth: RegistryAuth | undefined,
    onEvent: (event: PullEvent) => void,
    options: { timeoutMs: number; signal: AbortSignal },
  ): Promise<void>;
  /** Removes an image (a tag); 'missing' when the engine has no such image; a conflict when a container uses it. */
  removeImage(reference: string): Promise<'removed' | 'missing'>;
  /** Whether the image is on the engine (nothing is ever pulled). */
  imageExists(reference: string): Promise<boolean>;
  /** The ports an image exposes ("80/tcp"), or null when the engine has no such image. */
  exposedPorts(reference: string): Promise<string[] | null>;
}

/** Ports of this host: whether one is free for a listener (per-host work, as the probe's). */
export interface HostPorts {
  isFree(port: number): Promise<boolean>;
}

/** What the engine tells as it happens (adapters/docker: events.ts). */
export interface EngineEvents {
  /**
   * Follows the engine's events for this installation's containers: `onChange(id)` for every start, death
   * and removal. Resolves once the stream is open, with `closed`, which settles when the stream ends, fails
   * or `signal` aborts; events in between may have been missed, so the caller reconciles after reopening.
   */
  watch(onChange: (id: string) => void, signal: AbortSignal): Promise<{ readonly closed: Promise<void> }>;
  /** The same for the engine's images: `onChange()` whenever one is pulled, tagged, untagged, deleted, imported or loaded. */
  watchImages(onChange: () => void, signal: AbortSignal): Promise<{ readonly closed: Promise<void> }>;
}

/** The engine itself. */
export interface EngineInfo {
  /**
   * Whether the engine answers: what this process's own calls found in the last few seconds, else one ping
   * within `timeoutMs` (shared by every caller meanwhile), so that asking often costs no more engine calls.
   */
  answering(timeoutMs?: number): Promise<boolean>;
  /** The address containers reach this host on (their network's gateway), or undefined when the engine cannot tell. */
  gatewayAddress(): Promise<string | undefined>;
  /**
   * The swarm node this process's engine is (its host name, as records name nodes), '' on a single engine:
   * what per-host work (the probe, the sleeping containers' listeners) is for.
   */
  localNode(): Promise<string>;
  /** The subnets this host's containers are on (theirs, and Docker's default bridge): where check-ins come from. */
  localNetworks(): Promise<readonly string[]>;
}

/** The container engine, by capability (adapters/docker). */
export type ContainerRuntime = ContainerOperations & ImageOperations & EngineEvents & EngineInfo;

/** What a probe needs to count a container's connections. */
export interface ProbeTarget {
  /** Docker's full id. */
  readonly id: string;
  /** The container's init process on the host (Docker's State.Pid). */
  readonly pid: number;
  /** Its exposed TCP ports (inside the container). */
  readonly ports: readonly number[];
}

/**
 * Observes a container's activity from the host it runs on: the open client connections of its network
 * namespace. Per-host work (a multi-host engine runs one on every node).
 */
export interface ConnectionProbe {
  /** Why observation cannot work here at all (a remote engine, no host process table), or null when it can. */
  unavailable(): Promise<string | null>;
  /**
   * ESTABLISHED TCP connections (IPv4 and IPv6) whose local port is one of the target's ports and whose peer
   * is not the container's own loopback, in all and by port; with `bytes`, also the bytes its network namespace
   * has moved in and out so far (its interfaces but loopback). Null when they cannot be read (unknown, never "idle").
   */
  sample(target: ProbeTarget, options: { readonly bytes: boolean }): Promise<ProbeSample | null>;
}

export interface ProbeSample {
  readonly connections: number;
  /** Connections by the container's own port. */
  readonly byPort: Readonly<Record<number, number>>;
  /** Bytes in and out of its interfaces (loopback aside) since they were made; null when not asked for or not read. */
  readonly bytes: number | null;
}

export interface LogOptions {
  /** Lines from the end to start with, or 'all'. */
  readonly tail: number | 'all';
  readonly follow: boolean;
  readonly timestamps: boolean;
}

export interface CreateSpec {
  readonly image: string;
  readonly env: Readonly<Record<string, string>>;
  /** Host port of each exposed port ("80/tcp" → "20001"), published on them. */
  readonly ports: PortMap;
  /** Labels besides the installation's own (see containers/labels.ts). */
  readonly labels: Readonly<Record<string, string>>;
}

/** Guards a change of a record: it is applied only when the record is in one of `from` (and at start `startCount`). */
export interface TransitionGuard {
  readonly from?: readonly ContainerStatus[];
  readonly startCount?: number;
}

/** The fields a transition may change. */
export type RecordPatch = Partial<
  Pick<
    ContainerRecord,
    | 'status'
    | 'active'
    | 'ports'
    | 'ip'
    | 'node'
    | 'startCount'
    | 'checkinAt'
    | 'nextCheckAt'
    | 'strikes'
    | 'pid'
    | 'connections'
    | 'observedAt'
    | 'stopAt'
    | 'deleteAt'
    | 'extendedUntil'
    | 'warnedFor'
    | 'stopReason'
    | 'stoppedAt'
    | 'netBytes'
    | 'trafficAt'
    | 'connectedPorts'
  >
>;

export type TransitionResult =
  /** `previous`: the status the record had before this write. */
  | { readonly outcome: 'applied'; readonly record: ContainerRecord; readonly previous?: ContainerRecord['status'] }
  | { readonly outcome: 'refused'; readonly record: ContainerRecord }
  | { readonly outcome: 'missing' };

/**
 * Where records live (adapters/redis). Every write is atomic; transitions are compare-and-set, so that
 * concurrent requests and jobs on one container cannot interleave into a state Docker does not have.
 */
export interface ContainerStore {
  /**
   * Notes that create `createId` has begun: until `expiresAt` its container may exist without a record. With
   * `limit`, only while the records and the creates under way (marks not expired at `now`) are fewer than
   * `atMost`, in one atomic step; false when they are not (nothing is marked).
   */
  markCreate(createId: string, expiresAt: number, limit?: { readonly atMost: number; readonly now: number }): Promise<boolean>;
  /** Stores a new record, and drops the mark of the create that made it (when given), in one atomic write. */
  insert(record: ContainerRecord, createId?: string): Promise<void>;
  /**
   * Stores the record of a container that has none, atomically and only then. 'exists': a record is there
   * (another worker, or the create itself, came first); 'in_progress': the create that made it holds a mark
   * that has not expired; 'unfinished': that mark has expired, so the create never finished and the container
   * is the server's to remove (never said while the store looks freshly emptied, see `looksEmpty`).
   */
  adopt(record: ContainerRecord, createId: string, now: number): Promise<'adopted' | 'exists' | 'in_progress' | 'unfinished'>;
  /**
   * Takes `count` free host ports of `range` for create `createId` (held while its mark is good, and the record's
   * once it is inserted); fewer than asked (none taken) when the range is full. A port held by a record, another
   * create, or seen in use by something else lately, is not free.
   */
  reservePorts(count: number, createId: string, range: { readonly first: number; readonly last: number }, now: number): Promise<string[]>;
  /** Gives back ports held by `owner` (`create:<id>`, or a record's id). */
  releasePorts(owner: string, ports: readonly string[]): Promise<void>;
  /** Notes ports found in use by something other than this server, so that they are not handed out until `until`. */
  markPortsForeign(ports: readonly string[], until: number): Promise<void>;
  /** Drops the mark of a create whose container is gone. */
  dropCreateMark(createId: string): Promise<void>;
  /** Drops the marks that expired before `before` (creates that never even made a container); how many. */
  purgeCreateMarks(before: number): Promise<number>;
  /** How many records have each status, as every write keeps it: one read, however many records there are. */
  countByStatus(): Promise<Record<ContainerStatus, number>>;
  /** Counts the records by status anew (what `countByStatus` answers could only drift from a record changed by hand). */
  recount(): Promise<void>;
  /** True when the store holds no version: nothing was ever written to it, or everything was lost. */
  looksEmpty(): Promise<boolean>;
  /** Of `ids`, those that have no record. */
  unrecorded(ids: readonly string[]): Promise<string[]>;
  /** Notes that the container `from` was made anew as `to` (a port moved): `from` resolves to `to` from then on. */
  setAlias(from: string, to: string): Promise<void>;
  /** What `id` was made anew as, if it was. */
  aliasOf(id: string): Promise<string | null>;
  get(id: string): Promise<ContainerRecord | null>;
  /** The ids of records that start with `prefix`: none, one, or two (then it is ambiguous). */
  resolvePrefix(prefix: string): Promise<string[]>;
  /** Every record, oldest first, in one round trip. */
  list(): Promise<ContainerRecord[]>;
  /** The same, with the version they are at, read atomically. */
  listAt(): Promise<VersionedRecords>;
  /**
   * A number that grows with every write to any record (insert, transition, removal, check-in), for as long
   * as the store keeps its writes: see `onReset`.
   */
  version(): Promise<number>;
  /**
   * Calls `listener` whenever the store may have lost or rolled back writes (after a reconnect: a restart that
   * lost its last second, a restored backup, a fresh volume), so that nothing derived from an earlier
   * version is trusted any more.
   */
  onReset(listener: () => void): void;
  transition(id: string, guard: TransitionGuard, patch: RecordPatch): Promise<TransitionResult>;
  /** Deletes a record and its address entry; true when it existed. */
  remove(id: string): Promise<boolean>;
  /**
   * Stores a check-in. With a token hash, the token names the container, and it must be the sender's own
   * when the sender is a managed container; without, the sender's address does.
   * 'refused': unknown token, or another container's. 'unknown': no running container to credit.
   */
  checkIn(ip: string, tokenHash: string | undefined, active: number, at: number): Promise<CheckInOutcome>;
}

/** A check-in's outcome, and (when it counted) the stop deadline of its container, so that the container can show it. */
export interface CheckInOutcome {
  readonly outcome: 'ok' | 'unknown' | 'refused';
  readonly stopAt: number | null;
}

export interface VersionedRecords {
  readonly version: number;
  readonly records: ContainerRecord[];
}

/** A short exclusive claim on a piece of periodic work, so that several workers do it once (adapters/redis). */
export interface Leases {
  /** True when this process now holds `name` for `ttlMs` (nobody else held it, or this process did). */
  acquire(name: string, ttlMs: number): Promise<boolean>;
  /** Lets go of `name` if this process holds it (at shutdown, so that a restarted worker need not wait). */
  release(name: string): Promise<void>;
}

/** The slow work handed to the worker (adapters/bullmq). */
export interface JobQueue {
  /** Queues the stop of the record's start number `startCount`; queuing the same stop twice is harmless. */
  enqueueStop(id: string, startCount: number): Promise<void>;
  enqueueDelete(id: string): Promise<void>;
  /** Queues pull `id` of `reference` for the worker. */
  enqueuePull(id: string, reference: string): Promise<void>;
  /** Whether pull `id` has a job that is waiting or being carried out. */
  pullQueued(id: string): Promise<boolean>;
}

/** One line of the engine's pull progress, as it reports it. */
export interface PullEvent {
  readonly id?: string;
  readonly status?: string;
  readonly progressDetail?: { readonly current?: number; readonly total?: number };
  readonly error?: string;
}

/** Credentials for a registry, as the engine takes them. */
export interface RegistryAuth {
  readonly username: string;
  readonly password: string;
  readonly serveraddress: string;
}

/** A pull as clients follow it. */
export interface PullRecord {
  readonly id: string;
  readonly reference: string;
  readonly status: 'pulling' | 'done' | 'failed';
  readonly layers: readonly LayerProgress[];
  readonly error: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface LayerProgress {
  readonly id: string;
  readonly status: string;
  /** Bytes downloaded so far, and in all (0 while unknown). */
  readonly current: number;
  readonly total: number;
}

/** Where pulls are kept (adapters/redis); finished ones are forgotten after a day. */
export interface PullStore {
  /**
   * Starts pull `id` of `reference`, unless one of that reference is still pulling: then that one is the
   * answer (`created: false`). Atomic, so two requests never start two pulls of one reference.
   */
  startOrJoin(reference: string, id: string, at: number): Promise<{ readonly pull: PullRecord; readonly created: boolean }>;
  get(id: string): Promise<PullRecord | null>;
  /** The pulls still `pulling`, one per reference. */
  listActive(): Promise<PullRecord[]>;
  progress(id: string, layers: readonly LayerProgress[], at: number): Promise<void>;
  finish(
    id: string,
    outcome: { readonly status: 'done' | 'failed'; readonly error: string | null; readonly layers: readonly LayerProgress[] },
    at: number,
  ): Promise<void>;
}

/** What happened, as the live event stream (GET /v1/events) tells it. */
export const EVENT_TYPES = [
  'container.created',
  'container.started',
  'container.stopping',
  'container.stopped',
  'container.deleting',
  'container.deleted',
  'container.activity',
  'container.adopted',
  /** A connection to a sleeping container's port is starting it (detail: the host port, the peer). */
  'container.waking',
  /** It answers: the held connections are joined to it (detail: seconds from the first connection). */
  'container.woken',
  /** It could not be woken, or did not answer in time: the held connections were closed (detail: why). */
  'container.wake_failed',
  /** A deadline is near (detail: which, and when): SD_EXPIRY_WARNING ahead of it. */
  'container.expiring',
  /** One of its host ports was taken by something else at a start, and it got another (detail: which). */
  'container.port_moved',
  'image.pull',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** What an event tells beyond the record, as plain values (shown in the event's data). */
export type EventDetail = Readonly<Record<string, string | number | boolean | null>>;

export type DomainEvent =
  | { readonly type: Exclude<EventType, 'container.deleted' | 'image.pull'>; readonly record: ContainerRecord; readonly detail?: EventDetail }
  | { readonly type: 'container.deleted'; readonly id: string }
  | { readonly type: 'image.pull'; readonly pull: PullRecord };

/** An event as stored, with its id (ids grow: a later event has a greater id). */
export type StoredEvent = DomainEvent & { readonly eventId: string };

/**
 * A capped, ordered log of events shared by every process (adapters/redis: a Redis Stream), so that the API
 * can tell clients what the worker did.
 */
export interface EventLog {
  publish(event: DomainEvent): Promise<void>;
  /**
   * Up to `count` events after `eventId`, oldest first. `gap` is true when events after `eventId` were already
   * dropped from the log (the client missed some and should read the state afresh).
   */
  after(eventId: string, count: number): Promise<{ readonly events: StoredEvent[]; readonly gap: boolean }>;
  /**
   * Calls `listener` with each event published from now on, in order, until the returned function is called.
   * Resolves once following has begun: an `after` read made then overlaps the subscription (no event lost).
   */
  subscribe(listener: (event: StoredEvent) => void): Promise<() => void>;
}

/** What the login throttle says about a login attempt from a client. */
export type LoginVerdict = { readonly kind: 'allow'; readonly delayMs: number } | Refusal;
/** Where a client stands before it tries: its failures so far, or refused. */
export type LoginStanding = { readonly kind: 'allow'; readonly failures: number } | Refusal;
export interface Refusal {
  readonly kind: 'refuse';
  readonly retryAfterSeconds: number;
}

/**
 * Failed Basic-auth logins, counted per client key (the API decides what a client is: api/middleware/client.ts)
 * and in all (adapters/redis: shared by every API process, surviving their restarts). See logins.ts for the rule.
 */
export interface LoginThrottle {
  /** Asked before the credentials are looked at. */
  standing(clientKey: string): Promise<LoginStanding>;
  /** Records a failed login; says how long to hold the 401 back, or that the client is now refused. */
  fail(clientKey: string): Promise<LoginVerdict>;
  /** A successful login clears the client's failures. */
  succeed(clientKey: string): Promise<void>;
}

export type { ContainerRecord, PortMap, RuntimeContainer };
