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
  /** Last reported number of active connections; 0 after every start and stop. */
  readonly active: number;
  readonly ports: PortMap;
  /** Address on the Docker network while running, '' otherwise; the key of check-ins. */
  readonly ip: string;
  /** Incremented at every start, so that work scheduled for an earlier run can recognise itself as stale. */
  readonly run: number;
  /** Epoch ms of the latest check-in of this run, or null. */
  readonly checkinAt: number | null;
  /** Epoch ms of creation. */
  readonly createdAt: number;
  /** Epoch ms of the pending activity check, or null when none is pending. */
  readonly nextCheckAt: number | null;
  /** Idle looks in a row: 1 means the next idle look stops the container. */
  readonly strikes: number;
  /** SHA-256 (hex) of the container's check-in token; the token itself lives only in the container. */
  readonly tokenHash: string;
  /** The container's init process on the host while running (Docker's State.Pid), 0 when unknown. */
  readonly pid: number;
  /** Client connections at the latest sample of this run, or null when not sampled (or unknown). */
  readonly connections: number | null;
  /** Epoch ms of the latest sample of this run that saw a client connection, or null. */
  readonly observedAt: number | null;
  /** Fingerprints of the SSH keys handed to the container (the keys themselves are not kept). */
  readonly sshKeys: readonly string[];
}

/** What Docker says about a container right now. */
export interface RuntimeContainer {
  readonly id: string;
  readonly name: string;
  readonly running: boolean;
  readonly ports: PortMap;
  readonly ip: string;
  /** Epoch ms of the container's creation, as Docker recorded it. */
  readonly createdAt: number;
  /** Its init process on the host while running, 0 when unknown (a listing does not say). */
  readonly pid: number;
}

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
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'start' }
  | { readonly kind: 'stop' }
  | { readonly kind: 'refuse'; readonly reason: string };

/** The state machine of a client's PATCH: pure, so that every pair is tested. */
export function planStatusChange(current: ContainerStatus, wanted: StatusRequest): TransitionPlan {
  if (current === 'deleting') return { kind: 'refuse', reason: 'is being deleted' };
  if (current === wanted) return { kind: 'unchanged' };
  if (current === 'stopping') {
    return wanted === 'stopped' ? { kind: 'unchanged' } : { kind: 'refuse', reason: 'is still stopping' };
  }
  return wanted === 'running' ? { kind: 'start' } : { kind: 'stop' };
}
