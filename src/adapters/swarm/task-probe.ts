import type Docker from 'dockerode';
import type { ConnectionProbe, ProbeSample, ProbeTarget } from '../../domain/ports.js';
import type { EngineConnection } from '../docker/connection.js';

/** The swarm's label on a task's container naming its service. */
const SERVICE_ID = 'com.docker.swarm.service.id';

/**
 * Observes a swarm service's activity where its task runs: the service id is resolved to its running task's
 * container on this node's engine (its id and init PID, kept while they hold), and that container's sockets
 * are read as on a single engine. A service whose task runs on another node has no container here: unknown
 * (never "idle"), for that node's own worker to observe.
 */
export class TaskProbe implements ConnectionProbe {
  private readonly containers = new Map<string, { readonly id: string; readonly pid: number }>();

  constructor(
    /** This node's engine. */
    private readonly engine: EngineConnection,
    /** Reads a container's sockets from this host (adapters/proc). */
    private readonly probe: ConnectionProbe,
  ) {}

  unavailable(): Promise<string | null> {
    return this.probe.unavailable();
  }

  async sample(target: ProbeTarget, options: { readonly bytes: boolean }): Promise<ProbeSample | null> {
    const known = this.containers.get(target.id);
    if (known !== undefined) {
      const sample = await this.probe.sample({ ...target, ...known }, options);
      if (sample !== null) return sample;
      this.containers.delete(target.id);
    }
    const found = await this.localTask(target.id).catch(() => null);
    if (found === null) return null;
    if (this.containers.size > 10_000) this.containers.clear();
    this.containers.set(target.id, found);
    return this.probe.sample({ ...target, ...found }, options);
  }

  /** The running container of the service's task on this node, or null when it has none here. */
  private async localTask(serviceId: string): Promise<{ id: string; pid: number } | null> {
    const { docker } = this.engine;
    const [container] = await this.engine.call('list containers', (abortSignal) =>
      docker.listContainers({ filters: { label: [`${SERVICE_ID}=${serviceId}`], status: ['running'] }, abortSignal } as Docker.ContainerListOptions),
    );
    if (container === undefined) return null;
    const info = await this.engine.call('inspect the container', (abortSignal) => docker.getContainer(container.Id).inspect({ abortSignal }));
    return info.State.Running && info.State.Pid > 0 ? { id: info.Id, pid: info.State.Pid } : null;
  }
}
