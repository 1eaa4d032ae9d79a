import type { PortMap, RuntimeContainer } from '../../domain/containers/record.js';

/** What the Engine API says of a service (GET /services/<id>), in the parts read here. */
export interface EngineService {
  readonly ID: string;
  readonly CreatedAt: string;
  readonly Version: { readonly Index: number };
  readonly Spec: ServiceSpec;
}

export interface ServiceSpec {
  readonly Name: string;
  readonly Labels?: Record<string, string>;
  readonly TaskTemplate: {
    readonly ContainerSpec: { readonly Image: string; readonly Mounts?: readonly { readonly Type?: string; readonly Source?: string }[] } & Record<
      string,
      unknown
    >;
    readonly Placement?: { readonly Constraints?: readonly string[] } & Record<string, unknown>;
  } & Record<string, unknown>;
  readonly Mode: { readonly Replicated?: { readonly Replicas?: number } };
  readonly EndpointSpec?: { readonly Ports?: readonly EnginePort[] } & Record<string, unknown>;
}

export interface EnginePort {
  readonly Protocol?: string;
  readonly TargetPort?: number;
  readonly PublishedPort?: number;
  readonly PublishMode?: string;
}

/** One task of a service (GET /tasks), in the parts read here. */
export interface EngineTask {
  readonly ID: string;
  readonly ServiceID: string;
  readonly NodeID?: string;
  readonly CreatedAt: string;
  readonly DesiredState: string;
  readonly Status: {
    readonly State: string;
    readonly Err?: string;
    readonly ContainerStatus?: { readonly ContainerID?: string; readonly PID?: number; readonly ExitCode?: number };
  };
  readonly NetworksAttachments?: readonly { readonly Addresses?: readonly string[] }[];
}

/** Task states after which the task never runs again (swarmkit's terminal states). */
const ENDED = new Set(['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove']);
/** Task states on the way to running. */
const ON_ITS_WAY = new Set(['new', 'pending', 'assigned', 'accepted', 'ready', 'preparing', 'starting']);

/** The placement constraint that keeps a service on the node its task ran on (its volumes are there). */
export const pinConstraint = (node: string) => `node.hostname==${node}`;
const PIN = /^node\.hostname==(.+)$/;

/** The node a service is kept on, from its placement constraints, or ''. */
export function pinnedNode(spec: ServiceSpec): string {
  for (const constraint of spec.TaskTemplate.Placement?.Constraints ?? []) {
    const match = PIN.exec(constraint.replace(/\s+/g, ''));
    if (match !== null) return match[1] as string;
  }
  return '';
}

/** A service's published ports as the domain keeps them ("80/tcp" → "20001"). */
export function servicePorts(spec: ServiceSpec): PortMap {
  const out: Record<string, string> = {};
  for (const port of spec.EndpointSpec?.Ports ?? []) {
    if (port.TargetPort === undefined || port.PublishedPort === undefined || port.PublishedPort === 0) continue;
    out[`${port.TargetPort}/${port.Protocol ?? 'tcp'}`] = String(port.PublishedPort);
  }
  return out;
}

/** The newest of the tasks (the one the swarm's latest decision made). */
export function latestTask(tasks: readonly EngineTask[]): EngineTask | undefined {
  let latest: EngineTask | undefined;
  for (const task of tasks) if (latest === undefined || Date.parse(task.CreatedAt) > Date.parse(latest.CreatedAt)) latest = task;
  return latest;
}

/**
 * The desired states of a task that is meant to run: `ready` is the one an update gives the new task it makes
 * (a start's ForceUpdate), until the old one has stopped; then it is `running`.
 */
const MEANT_TO_RUN = new Set(['ready', 'running']);

/** Whether a task may still run: running, or on its way there, and meant to. */
export const taskLive = (task: EngineTask) => MEANT_TO_RUN.has(task.DesiredState) && (task.Status.State === 'running' || ON_ITS_WAY.has(task.Status.State));
export const taskEnded = (task: EngineTask) => ENDED.has(task.Status.State);

/** How a task that no longer runs ended, in the words of the single engine ("exited (code 1)"), or the swarm's own. */
export function taskEnding(task: EngineTask | undefined): string | null {
  if (task === undefined || !taskEnded(task)) return null;
  const code = task.Status.ContainerStatus?.ExitCode;
  if (task.Status.State === 'rejected' || task.Status.State === 'failed') {
    // 128 is the engine's own for a container it could not start (a host port taken, say): its error says why.
    if (code !== undefined && code !== 0 && code !== 128 && task.Status.ContainerStatus?.ContainerID) return `exited (code ${code})`;
    return `${task.Status.State}: ${task.Status.Err ?? 'no reason given'}`;
  }
  return code === undefined ? null : `exited (code ${code})`;
}

/** A node as the mapping needs it: its host name, and whether the swarm has lost it (down, or gone). */
export interface NodeState {
  readonly name: string;
  readonly down: boolean;
}

/**
 * A service and its tasks, as the domain reads a container: running while its newest task's container runs
 * on a node the swarm has not lost (the manager keeps a lost node's last word, "running", for hours); its
 * ports are its published ones (the same at every start); its node the task's, or the one it is kept on.
 */
export function fromService(service: EngineService, tasks: readonly EngineTask[], nodeOf: (nodeId: string) => NodeState): RuntimeContainer {
  const latest = latestTask(tasks);
  const host = latest?.NodeID ? nodeOf(latest.NodeID) : undefined;
  // Running until its container no longer runs (a task told to shut down runs through its stop grace period).
  const running = latest !== undefined && latest.Status.State === 'running' && host?.down !== true;
  const address = running ? (latest.NetworksAttachments?.flatMap((n) => n.Addresses ?? [])[0] ?? '') : '';
  const node = host?.name ?? '';
  return {
    id: service.ID,
    name: service.Spec.Name,
    image: service.Spec.TaskTemplate.ContainerSpec.Image,
    running,
    ports: servicePorts(service.Spec),
    ip: address.replace(/\/\d+$/, ''),
    node: node === '' ? pinnedNode(service.Spec) : node,
    createdAt: Date.parse(service.CreatedAt),
    pid: running ? (latest.Status.ContainerStatus?.PID ?? 0) : 0,
    labels: service.Spec.Labels ?? {},
    ended: running ? null : host?.down === true && latest?.Status.State === 'running' ? `node ${host.name} is down` : taskEnding(latest),
  };
}
