/** The states a managed container's record can be in. `stopping` and `deleting` last until the worker is done. */
export const CONTAINER_STATUSES = ['running', 'stopped', 'stopping', 'deleting'] as const;
export type ContainerStatus = (typeof CONTAINER_STATUSES)[number];

/** Published host ports by container port, e.g. `{ "22/tcp": "32768", "80/tcp": "32769" }`. */
export type PortMap = Readonly<Record<string, string>>;

/** What the server remembers about a container it created. */
export interface ContainerRecord {
  /** Docker's full 64-hex id. */
  readonly id: string;
  /** Docker's name with its leading slash. */
  readonly name: string;
  /** The image reference as the client sent it. */
  readonly image: string;
  readonly status: ContainerStatus;
  /**
   * Whether, while stopped, a connection to one of its ports wakes it (the worker listens on them). Records of
   * containers made before stable ports read as false: their ports changed at every start.
   */
  readonly wakeOnConnect: boolean;
  /** Last reported number of active connections; 0 after every start and stop. */
  readonly active: number;
  /**
   * Its host ports by container port: chosen at create from SD_PORT_RANGE and kept for its whole life, stopped
   * or running (containers made before stable ports: what Docker gave them at their latest start).
   */
  readonly ports: PortMap;
  /** Address on the Docker network while running, '' otherwise; the key of check-ins. */
  readonly ip: string;
  /**
   * The swarm node its task runs on, or last ran on (a stopped one is kept there, its volumes with it), by host
   * name; '' on a single engine (SD_ENGINE=docker).
   */
  readonly node: string;
  /**
   * How many times the server has started it (1 after the create), so that work meant for an earlier start
   * (a stop job, a decision) can recognise itself as stale.
   */
  readonly startCount: number;
  /** Epoch ms of the latest check-in since the latest start, or null. */
  readonly checkinAt: number | null;
  /** Epoch ms of creation. */
  readonly createdAt: number;
  /** Epoch ms at which the idle check looks at it next, or null when it will not. */
  readonly nextCheckAt: number | null;
  /** Idle looks in a row: 1 means the next idle look stops the container. */
  readonly strikes: number;
  /** SHA-256 (hex) of the container's check-in token; the token itself lives only in the container. */
  readonly tokenHash: string;
  /** The container's init process on the host while running (Docker's State.Pid), 0 when unknown. */
  readonly pid: number;
  /** Client connections at the latest sample since the latest start, or null when not sampled (or unknown). */
  readonly connections: number | null;
  /** Epoch ms of the latest sample since the latest start that saw a client connection, or null. */
  readonly observedAt: number | null;
  /** Fingerprints of the SSH keys handed to the container (the keys themselves are not kept). */
  readonly sshKeys: readonly string[];
  /** Epoch ms at which it is stopped whatever its activity (`stop_after`, moved by an extend), or null. */
  readonly stopAt: number | null;
  /** Epoch ms at which it is deleted whatever its state (`delete_after`), or null. */
  readonly deleteAt: number | null;
  /** Until when an extend keeps it up whatever its activity (epoch ms), or null. */
  readonly extendedUntil: number | null;
  /** The deadline (epoch ms) the latest `container.expiring` warned of, so that each is warned of once. */
  readonly warnedFor: number | null;
  /** Why it stopped last (or is stopping), in words: "requested", "deadline", "idle: …", "exited (code 137)"… */
  readonly stopReason: string | null;
  /** Epoch ms of its latest stop, or null while it has not stopped (for SD_DELETE_STOPPED_AFTER). */
  readonly stoppedAt: number | null;
  /** Its network namespace's bytes in and out at the latest sample, or null when not read (quiet connections). */
  readonly netBytes: number | null;
  /** Epoch ms of the latest sample that saw bytes move (more than a check-in's), or null. */
  readonly trafficAt: number | null;
  /** Its own ports that had client connections at the latest sample ("5432/tcp"). */
  readonly connectedPorts: readonly string[];
}

/** What Docker says about a container right now. */
export interface RuntimeContainer {
  readonly id: string;
  readonly name: string;
  /** The image as the engine names it (what it was created from). */
  readonly image: string;
  readonly running: boolean;
  readonly ports: PortMap;
  readonly ip: string;
  /** The swarm node it runs on (or is kept on while stopped), '' on a single engine. */
  readonly node: string;
  /** Epoch ms of the container's creation, as Docker recorded it. */
  readonly createdAt: number;
  /** Its init process on the host while running, 0 when unknown (a listing does not say). */
  readonly pid: number;
  /** Its labels, as the engine keeps them. */
  readonly labels: Readonly<Record<string, string>>;
  /** How its latest start ended, when it is not running and the engine says ("exited (code 137)"), else null. */
  readonly ended: string | null;
}

/** The TCP ports of a port map, container port → host port (`{"80/tcp": "20001"}` → [[80, 20001]]). */
export function tcpBindings(ports: PortMap): [containerPort: number, hostPort: number][] {
  return Object.entries(ports)
    .filter(([spec, host]) => spec.endsWith('/tcp') && host !== '')
    .map(([spec, host]): [number, number] => [Number(spec.slice(0, -'/tcp'.length)), Number(host)])
    .filter(([inside, outside]) => Number.isInteger(inside) && inside > 0 && Number.isInteger(outside) && outside > 0);
}

/** The lifetime fields of a record with no deadline, no extend, no stop yet and no traffic read (a new one's). */
export const noLifetime = {
  stopAt: null,
  deleteAt: null,
  extendedUntil: null,
  warnedFor: null,
  stopReason: null,
  stoppedAt: null,
  netBytes: null,
  trafficAt: null,
  connectedPorts: [] as readonly string[],
} as const;

/** Host port of container port 22/tcp, or '' when not published. */
export function sshPort(ports: PortMap): string {
  return ports['22/tcp'] ?? '';
}

/** Host port of the lowest-numbered published TCP port other than 22, or '' when none. */
export function appPort(ports: PortMap): string {
  let best: { port: number; host: string } | undefined;
  for (const [spec, host] of Object.entries(ports)) {
    const [portText, protocol = 'tcp'] = spec.split('/');
    const port = Number(portText);
    if (protocol !== 'tcp' || port === 22 || !Number.isInteger(port) || host === '') continue;
    if (best === undefined || port < best.port) best = { port, host };
  }
  return best?.host ?? '';
}

/** Which changes a client may ask for, from which state. */
export type StatusRequest = 'running' | 'stopped';

export type TransitionPlan =
  { readonly kind: 'unchanged' } | { readonly kind: 'start' } | { readonly kind: 'stop' } | { readonly kind: 'refuse'; readonly reason: string };

/** The state machine of a client's PATCH: pure, so that every pair is tested. */
export function planStatusChange(current: ContainerStatus, wanted: StatusRequest): TransitionPlan {
  if (current === 'deleting') return { kind: 'refuse', reason: 'is being deleted' };
  if (current === wanted) return { kind: 'unchanged' };
  if (current === 'stopping') {
    return wanted === 'stopped' ? { kind: 'unchanged' } : { kind: 'refuse', reason: 'is still stopping' };
  }
  return wanted === 'running' ? { kind: 'start' } : { kind: 'stop' };
}

/** What a record says once its container no longer runs (its ports stay its own); `at`: when. */
export const stoppedPatch = (at: number) => ({
  status: 'stopped' as const,
  stoppedAt: at,
  ip: '',
  pid: 0,
  active: 0,
  strikes: 0,
  connections: null,
  nextCheckAt: null,
  netBytes: null,
});

/** When the idle check first looks at a container after a start (null: the idle stop is off). */
export interface FirstCheck {
  /** Seconds from a start to the first look, or null when the idle stop is off. */
  readonly afterSeconds: number | null;
}

/**
 * The fields of a fresh start, from what Docker says about the started container. A command that exits at
 * once leaves a stopped container by the time Docker is asked: say so rather than "running" with no ports.
 */
export function startPatch(record: Pick<ContainerRecord, 'startCount'>, actual: RuntimeContainer, now: number, firstCheck: FirstCheck) {
  const fresh = {
    startCount: record.startCount + 1,
    active: 0,
    checkinAt: null,
    strikes: 0,
    connections: null,
    observedAt: null,
    netBytes: null,
    trafficAt: null,
    connectedPorts: [] as readonly string[],
    stopReason: null,
    stoppedAt: null,
    node: actual.node,
  };
  if (!actual.running) return { ...fresh, ...stoppedPatch(now), stopReason: actual.ended ?? 'exited' };
  return {
    ...fresh,
    status: 'running' as const,
    ports: actual.ports,
    ip: actual.ip,
    pid: actual.pid,
    nextCheckAt: firstCheck.afterSeconds === null ? null : now + firstCheck.afterSeconds * 1000,
  };
}
