import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import type { ContainerLimits } from '../../config/env.js';
import { LABELS } from '../../domain/containers/labels.js';
import type { RuntimeContainer } from '../../domain/containers/record.js';
import { DomainError, PortTakenError } from '../../domain/errors.js';
import type { ContainerOperations, CreateSpec, LogOptions } from '../../domain/ports.js';
import type { EngineConnection } from '../docker/connection.js';
import type { DockerContainers } from '../docker/containers.js';
import { dockerStatus, PORT_TAKEN } from '../docker/errors.js';
import type { DockerImages } from '../docker/images.js';
import { engineLogs } from '../docker/log-stream.js';
import {
  fromService,
  latestTask,
  pinConstraint,
  pinnedNode,
  taskEnded,
  taskEnding,
  taskLive,
  type EngineService,
  type NodeState,
  type EngineTask,
  type ServiceSpec,
} from './mapping.js';

export interface ServiceOptions {
  /** This installation's name: the value of the instance label, on the service and on its tasks' containers. */
  readonly instance: string;
  readonly limits: ContainerLimits;
  /** The id of the overlay network the services are attached to (made when missing). */
  readonly network: () => Promise<string>;
  /** Between two looks at a service whose task is on its way (running, or gone). */
  readonly pollMs?: number;
  /** SD_STOP_TIMEOUT: how long a task's stop waits before SIGKILL. */
  readonly stopTimeoutSeconds: number;
  /**
   * How long a start may take before it is given up (its service removed, at a create): under the create's
   * mark (SD_ORPHAN_GRACE), so that no worker takes a slow start for an unfinished create.
   */
  readonly startTimeoutMs: number;
  /** This node's engine: the volumes this node keeps for services that no longer exist are removed through it. */
  readonly nodeEngine?: EngineConnection;
}

/** The label a volume made for a service carries: the service's name (so that its delete finds them). */
export const VOLUME_LABEL = 'io.spin-docker.service';

/**
 * This installation's containers as swarm services, one task each: create makes a service with one replica
 * (restart policy none: a container that ends stays ended, as on one engine), stop scales it to 0 and keeps
 * it on the node it ran on, start scales it to 1 there, delete removes it. A service's task is a new container
 * at every start: what must outlive a stop lives in the image's volumes, which are named volumes of the
 * service's own on its node (the single engine's anonymous ones would be new at every start).
 */
export class SwarmServices implements ContainerOperations {
  /** The swarm's nodes by id, as last listed, and when. */
  private nodes = new Map<string, NodeState>();
  private nodesAt = 0;

  constructor(
    private readonly engine: EngineConnection,
    private readonly images: Pick<DockerImages, 'inspect'>,
    /** The manager's own engine, for what only the node a task runs on can do (its health check, here). */
    private readonly local: Pick<DockerContainers, 'ready'>,
    private readonly options: ServiceOptions,
  ) {}

  private get pollMs(): number {
    return this.options.pollMs ?? 100;
  }

  async createAndStart(spec: CreateSpec): Promise<RuntimeContainer> {
    const image = await this.images.inspect(spec.image);
    if (image === null) throw new DomainError('invalid', 'image_not_found', `Image ${spec.image} doesn't exist`);
    const name = `sd-${spec.labels[LABELS.createId] ?? Date.now().toString(36)}`;
    const volumes = Object.keys(image.Config?.Volumes ?? {}).sort();
    const { limits } = this.options;
    const labels = { ...spec.labels, [LABELS.instance]: this.options.instance };
    const serviceSpec = {
      Name: name,
      Labels: labels,
      TaskTemplate: {
        ContainerSpec: {
          Image: spec.image,
          Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
          // The task's container carries the instance label too: the engine's container events are filtered by it.
          Labels: { [LABELS.instance]: this.options.instance },
          Init: true,
          CapabilityDrop: ['CAP_NET_RAW'],
          // A running task keeps the spec it was made with: its stop's grace period is set from the start.
          StopGracePeriod: this.options.stopTimeoutSeconds * 1e9,
          Mounts: volumes.map((target, index) => ({
            Type: 'volume',
            Source: `${name}-v${index}`,
            Target: target,
            VolumeOptions: { Labels: { [VOLUME_LABEL]: name, [LABELS.instance]: this.options.instance } },
          })),
        },
        Resources: {
          Limits: {
            ...(limits.memory > 0 ? { MemoryBytes: limits.memory } : {}),
            ...(limits.cpus > 0 ? { NanoCPUs: Math.round(limits.cpus * 1e9) } : {}),
            ...(limits.pids > 0 ? { Pids: limits.pids } : {}),
          },
        },
        RestartPolicy: { Condition: 'none' },
        LogDriver: { Name: 'json-file', Options: { 'max-size': limits.logMaxSize, 'max-file': String(limits.logMaxFiles) } },
        Networks: [{ Target: await this.options.network() }],
      },
      Mode: { Replicated: { Replicas: 1 } },
      // A start's new task replaces the last one (stop first: they share host ports); one that fails does not
      // pause the service's updates (the default), which would leave the next start without a task.
      UpdateConfig: { Parallelism: 1, Order: 'stop-first', FailureAction: 'continue' },
      // Host mode: each port is bound on the node its task runs on, as a single engine binds it, so that the
      // node's own processes (the wake listener, the probe) find it there; the routing mesh would answer on
      // every node and hide which one holds the container.
      EndpointSpec: {
        Ports: Object.entries(spec.ports).map(([inside, outside]) => {
          const [port, protocol = 'tcp'] = inside.split('/');
          return { Protocol: protocol, TargetPort: Number(port), PublishedPort: Number(outside), PublishMode: 'host' };
        }),
      },
    };
    const created = (await this.engine.call('create the service', (abortSignal) =>
      // No registry credentials (the images are the nodes' own): dockerode takes a lone argument for them.
      this.engine.docker.createService(undefined as unknown as Docker.AuthConfig, { ...serviceSpec, abortSignal } as unknown as Docker.ServiceSpec),
    )) as { id?: string; ID?: string };
    const id = created.id ?? created.ID ?? '';
    try {
      const started = await this.settle(id, new Set());
      if (started === null) throw new DomainError('internal', 'service_vanished', `The service of ${name} vanished while it started`);
      if (!started.running && started.ended !== null && /^(rejected|failed):/.test(started.ended)) {
        throw new DomainError('unavailable', 'task_not_started', `The swarm could not start ${spec.image}: ${started.ended}`);
      }
      return started;
    } catch (error) {
      // Created but not startable (no node can run it, or the engine stopped answering): nothing is left behind.
      await this.removeService(id, volumes.length > 0 ? name : undefined).catch(() => undefined);
      throw error;
    }
  }

  async recreate(id: string): Promise<RuntimeContainer> {
    // A host port taken at a start shows on a swarm as a rejected task (the node says why), never as the
    // engine's "port is already allocated": the single engine's move to another port does not arise here.
    throw new DomainError('conflict', 'not_on_swarm', `Container ${id} runs on a swarm: its ports are not moved`);
  }

  async ready(id: string): Promise<boolean> {
    const tasks = await this.tasks(id);
    const task = latestTask(tasks);
    const containerId = task?.Status.ContainerStatus?.ContainerID;
    if (task === undefined || task.Status.State !== 'running' || containerId === undefined) return false;
    // Its health check runs where its container is: on this engine's node, else the swarm's running is the answer.
    try {
      return await this.local.ready(containerId);
    } catch (error) {
      if (dockerStatus(error) === 404) return true;
      throw error;
    }
  }

  async start(id: string): Promise<RuntimeContainer | null> {
    const service = await this.service(id);
    if (service === null) return null;
    const before = await this.tasks(id);
    const latest = latestTask(before);
    if ((service.Spec.Mode.Replicated?.Replicas ?? 0) !== 1) {
      // Scaled up with a change of the spec too: the stopped task may still be in the manager's store (marked
      // for removal, not yet reaped), and the orchestrator then counts its slot as filled and makes no task (nor
      // again once it is reaped); changed, the task is out of date and the updater replaces it. The three-node
      // test saw a service of one replica with no task for a minute without this.
      await this.update(id, (spec) => ({ ...forced(spec), Mode: { Replicated: { Replicas: 1 } } }));
    } else if (latest !== undefined && (latest.Status.State === 'running' || taskLive(latest))) {
      // Running, or on its way there: that task is the answer.
      return this.settle(id, new Set());
    } else {
      // One replica whose task ended by itself (restart policy none): the swarm makes no other until the
      // service changes, so it is made to (ForceUpdate), as `docker service update --force` does.
      await this.update(id, forced);
    }
    // The task this start makes, not the last run's (which may still be listed a moment, ended, or on its way
    // out): a task listed before counts only if it runs again, or is on its way to.
    const started = await this.settle(id, new Set(before.map((task) => task.ID)));
    if (started !== null && !started.running) await this.throwIfPortTaken(id);
    return started;
  }

  /**
   * A task that could not bind a host port failed as a task, not as an API call: said as the single engine
   * says it (PortTakenError), so that the start waits for a sleeping container's ports to be handed back (the
   * wake listener of its node holds them until it hears of the start) and starts again.
   */
  private async throwIfPortTaken(id: string): Promise<void> {
    const task = latestTask(await this.tasks(id));
    const taken = PORT_TAKEN.exec(task?.Status.Err ?? '');
    if (taken !== null) {
      const port = Number(taken[1] ?? taken[2]);
      throw new PortTakenError(port, `The swarm could not start ${id}: host port ${port} is taken on its node`);
    }
  }

  async stop(id: string, timeoutSeconds: number): Promise<'stopped' | 'missing'> {
    const service = await this.service(id);
    if (service === null) return 'missing';
    const tasks = await this.tasks(id);
    const node = latestTask(tasks)?.NodeID;
    const keptOn = node === undefined ? pinnedNode(service.Spec) : await this.hostname(node);
    await this.update(id, (spec) => ({
      ...spec,
      Mode: { Replicated: { Replicas: 0 } },
      TaskTemplate: {
        ...spec.TaskTemplate,
        ContainerSpec: { ...spec.TaskTemplate.ContainerSpec, StopGracePeriod: timeoutSeconds * 1e9 },
        // Kept on its node: its volumes are there, and its next start finds them.
        Placement: {
          ...spec.TaskTemplate.Placement,
          Constraints: [
            ...(spec.TaskTemplate.Placement?.Constraints ?? []).filter((c) => !c.startsWith('node.hostname==')),
            ...(keptOn === '' ? [] : [pinConstraint(keptOn)]),
          ],
        },
      },
    }));
    const deadline = Date.now() + timeoutSeconds * 1000 + this.engine.timeoutMs;
    while (Date.now() < deadline) {
      const left = await this.tasks(id);
      await this.knowNodes(left);
      // A task on a node the swarm has lost never says it ended: it is not running anywhere the swarm can reach.
      if (left.every((task) => taskEnded(task) || (task.NodeID !== undefined && this.nodeState(task.NodeID).down))) return 'stopped';
      await sleep(this.pollMs);
    }
    throw new DomainError(
      'unavailable',
      'docker_unavailable',
      `The swarm did not stop the task of ${id} within ${Math.round((deadline - Date.now()) / 1000)} s`,
    );
  }

  async remove(id: string): Promise<void> {
    const service = await this.service(id);
    if (service === null) return;
    const volumes = (service.Spec.TaskTemplate.ContainerSpec.Mounts ?? []).some((mount) => mount.Type === 'volume');
    await this.removeService(id, volumes ? service.Spec.Name : undefined);
  }

  /** Removes a service, then (once its containers are gone from this node) the volumes made for it. */
  private async removeService(id: string, volumesOf: string | undefined): Promise<void> {
    try {
      await this.engine.call('remove the service', (abortSignal) => this.engine.docker.getService(id).remove({ abortSignal } as object));
    } catch (error) {
      if (dockerStatus(error) !== 404) throw error;
    }
    if (volumesOf === undefined) return;
    const deadline = Date.now() + 2 * this.engine.timeoutMs;
    for (;;) {
      const volumes = await this.engine.call('list volumes', (abortSignal) =>
        this.engine.docker.listVolumes({ filters: { label: [`${VOLUME_LABEL}=${volumesOf}`] }, abortSignal } as object),
      );
      const left = (volumes as { Volumes?: { Name: string }[] | null }).Volumes ?? [];
      if (left.length === 0) return;
      for (const volume of left) {
        // In use (409) until the node has removed the task's container: tried again.
        await this.engine
          .call('remove the volume', (abortSignal) => this.engine.docker.getVolume(volume.Name).remove({ abortSignal } as object))
          .catch(() => undefined);
      }
      if (Date.now() > deadline) return;
      await sleep(this.pollMs);
    }
  }

  async logs(id: string, options: LogOptions, signal: AbortSignal): Promise<Readable> {
    if ((await this.inspect(id)) === null) throw new DomainError('not_found', 'container_not_found', `Container ${id} doesn't exist`);
    return engineLogs(this.engine, `/services/${id}/logs`, options, signal);
  }

  async listManaged(): Promise<RuntimeContainer[]> {
    // This node's volumes first: one there before the listing whose service the listing lacks is a deleted one's.
    const volumes = this.options.nodeEngine === undefined ? [] : await this.nodeVolumes().catch(() => []);
    const [services, tasks] = await Promise.all([
      this.engine.call(
        'list services',
        (abortSignal) =>
          this.engine.docker.listServices({ filters: { label: [`${LABELS.instance}=${this.options.instance}`] }, abortSignal } as object) as Promise<unknown>,
      ) as Promise<EngineService[]>,
      this.engine.call('list tasks', (abortSignal) => this.engine.docker.listTasks({ abortSignal } as object)) as Promise<EngineTask[]>,
    ]);
    const byService = new Map<string, EngineTask[]>();
    for (const task of tasks) byService.set(task.ServiceID, [...(byService.get(task.ServiceID) ?? []), task]);
    await this.knowNodes(tasks);
    const names = new Set(services.map((service) => service.Spec.Name));
    await this.removeVolumes(volumes.filter((volume) => !names.has(volume.Labels?.[VOLUME_LABEL] ?? ''))).catch(() => undefined);
    return services.map((service) => fromService(service, byService.get(service.ID) ?? [], (node) => this.nodeState(node)));
  }

  /**
   * The volumes this node keeps for the installation's services. A service's delete removes its volumes on
   * the node the delete runs on; a node's own (its worker's full passes) are removed here once their service
   * is gone.
   */
  private async nodeVolumes(): Promise<{ Name: string; Labels?: Record<string, string> | null }[]> {
    const engine = this.options.nodeEngine as EngineConnection;
    const listed = await engine.call('list volumes', (abortSignal) =>
      engine.docker.listVolumes({ filters: { label: [`${LABELS.instance}=${this.options.instance}`, VOLUME_LABEL] }, abortSignal } as object),
    );
    return (listed as { Volumes?: { Name: string; Labels?: Record<string, string> | null }[] | null }).Volumes ?? [];
  }

  private async removeVolumes(volumes: readonly { Name: string }[]): Promise<void> {
    const engine = this.options.nodeEngine as EngineConnection;
    for (const volume of volumes) {
      await engine.call('remove the volume', (abortSignal) => engine.docker.getVolume(volume.Name).remove({ abortSignal } as object)).catch(() => undefined);
    }
  }

  async inspect(id: string): Promise<RuntimeContainer | null> {
    const service = await this.service(id);
    if (service === null) return null;
    const tasks = await this.tasks(id);
    await this.knowNodes(tasks);
    return fromService(service, tasks, (node) => this.nodeState(node));
  }

  /**
   * Waits until the service's newest task (one not in `earlier`, or one of those that is live again) runs or
   * has ended (or there is none to wait for), and says what it is then.
   */
  private async settle(id: string, earlier: ReadonlySet<string>): Promise<RuntimeContainer | null> {
    const deadline = Date.now() + this.options.startTimeoutMs;
    for (;;) {
      const service = await this.service(id);
      if (service === null) return null;
      const tasks = await this.tasks(id);
      const latest = latestTask(tasks.filter((task) => !earlier.has(task.ID) || taskLive(task)));
      const wanted = service.Spec.Mode.Replicated?.Replicas ?? 0;
      const settled = wanted === 0 || (latest !== undefined && (latest.Status.State === 'running' || !taskLive(latest)));
      if (settled) {
        await this.knowNodes(tasks);
        return fromService(service, latest === undefined ? tasks : [latest], (node) => this.nodeState(node));
      }
      if (Date.now() > deadline) {
        const why = latest === undefined ? 'no task yet' : `its task is ${latest.Status.State}${latest.Status.Err ? `: ${latest.Status.Err}` : ''}`;
        // What the swarm lists, for whoever reads the error: each task's desired and current state.
        const listed = tasks.map((task) => `${task.ID.slice(0, 12)} ${task.DesiredState}/${task.Status.State}`).join(', ') || 'none';
        throw new DomainError(
          'unavailable',
          'task_not_started',
          `The swarm did not start ${id} in time (${why}; ${taskEnding(latest) ?? 'no node took it'}; ${wanted} replica(s) wanted; tasks: ${listed})`,
        );
      }
      await sleep(this.pollMs);
    }
  }

  /** The service, if it is one of this installation's. */
  private async service(id: string): Promise<EngineService | null> {
    try {
      const service = (await this.engine.call('inspect the service', (abortSignal) =>
        this.engine.docker.getService(id).inspect({ abortSignal } as object),
      )) as EngineService;
      return service.Spec.Labels?.[LABELS.instance] === this.options.instance ? service : null;
    } catch (error) {
      if (dockerStatus(error) === 404) return null;
      throw error;
    }
  }

  private tasks(serviceId: string): Promise<EngineTask[]> {
    return this.engine.call('list tasks', (abortSignal) =>
      this.engine.docker.listTasks({ filters: { service: [serviceId] }, abortSignal } as object),
    ) as Promise<EngineTask[]>;
  }

  /** Changes a service's spec, at the version read (a concurrent change makes the engine refuse; read again then). */
  private async update(id: string, change: (spec: ServiceSpec) => ServiceSpec): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const service = await this.service(id);
      if (service === null) throw new DomainError('not_found', 'container_not_found', `Container ${id} doesn't exist`);
      try {
        await this.engine.call('update the service', (abortSignal) =>
          this.engine.docker.getService(id).update({ ...change(service.Spec), version: service.Version.Index, abortSignal } as object),
        );
        return;
      } catch (error) {
        // "update out of sequence": someone else changed it since it was read.
        if (attempt >= 3 || !/out of sequence/i.test((error as Error).message)) throw error;
      }
    }
  }

  /** A node's host name by its id. */
  private async hostname(nodeId: string): Promise<string> {
    await this.knowNodes([{ NodeID: nodeId }]);
    return this.nodeState(nodeId).name;
  }

  private nodeState(nodeId: string): NodeState {
    // A node the swarm no longer lists (removed) is lost too.
    return this.nodes.get(nodeId) ?? { name: nodeId, down: true };
  }

  /** Lists the nodes when one of the tasks' is not known, or when the last listing is older than NODES_FRESH_MS. */
  private async knowNodes(tasks: readonly Pick<EngineTask, 'NodeID'>[]): Promise<void> {
    const fresh = Date.now() - this.nodesAt < NODES_FRESH_MS;
    if (fresh && tasks.every((task) => task.NodeID === undefined || this.nodes.has(task.NodeID))) return;
    const nodes = (await this.engine.call('list nodes', (abortSignal) => this.engine.docker.listNodes({ abortSignal } as object))) as {
      ID: string;
      Description?: { Hostname?: string };
      Status?: { State?: string };
    }[];
    // Only `down` is lost: a manager that has just restarted (or a new leader) says `unknown` of every node a while.
    this.nodes = new Map(nodes.map((node) => [node.ID, { name: node.Description?.Hostname ?? node.ID, down: node.Status?.State === 'down' }]));
    this.nodesAt = Date.now();
  }
}

/** The spec with its task template marked changed (`docker service update --force`): the swarm makes a new task. */
const forced = (spec: ServiceSpec): ServiceSpec => ({
  ...spec,
  TaskTemplate: { ...spec.TaskTemplate, ForceUpdate: ((spec.TaskTemplate.ForceUpdate as number | undefined) ?? 0) + 1 },
});

/** How long a listing of the nodes (their names, whether they are up) stands. */
const NODES_FRESH_MS = 2_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
