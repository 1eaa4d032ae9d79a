import type Docker from 'dockerode';
import type { ContainerLimits } from '../../config/env.js';
import { LABELS } from '../../domain/containers/labels.js';
import type { ContainerRuntime } from '../../domain/ports.js';
import { EngineConnection } from './connection.js';
import { DockerContainers } from './containers.js';
import { DockerEvents } from './events.js';
import { DockerImages, imageOperations } from './images.js';
import { DockerNetwork } from './network.js';

/** How long what an engine call found of the engine stands for it (a health check asked meanwhile pings nothing). */
const ANSWERING_FRESH_MS = 5_000;

/** The label every container we create carries; its value is the installation's name (SD_INSTANCE). */
export const INSTANCE_LABEL = LABELS.instance;

export interface DockerRuntimeOptions {
  /** This installation's name: the value of INSTANCE_LABEL. */
  readonly instance: string;
  /** Milliseconds any one engine call may take (a stop gets its own stop timeout on top). */
  readonly timeoutMs: number;
  /** What every container is held to; 0 means no limit. */
  readonly limits: ContainerLimits;
  /** Host address the containers' ports are published on. */
  readonly publishAddress: string;
  /** SD_NETWORK: the network managed containers are attached to (made when missing; `bridge`: Docker's default). */
  readonly network: string;
  /** Told once when that network lets containers reach each other. */
  readonly onOpenNetwork?: (name: string) => void;
  /** Told of every engine call's duration, by operation (for metrics). */
  readonly onCall?: (operation: string, seconds: number, ok: boolean) => void;
}

/**
 * The domain's ContainerRuntime on one Docker engine, through the process's one Dockerode client: its
 * capabilities (containers, images, events) each in a module of its own, over one connection with deadlines.
 */
export function createDockerRuntime(docker: Docker, options: DockerRuntimeOptions): ContainerRuntime {
  const engine = new EngineConnection(docker, { timeoutMs: options.timeoutMs, ...(options.onCall === undefined ? {} : { onCall: options.onCall }) });
  const images = new DockerImages(engine);
  const network = new DockerNetwork(engine, {
    name: options.network,
    instance: options.instance,
    ...(options.onOpenNetwork === undefined ? {} : { onOpen: options.onOpenNetwork }),
  });
  const containers = new DockerContainers(engine, { ...options, network: async () => (await network.ensure()).id });
  const events = new DockerEvents(engine, options.instance);
  return {
    createAndStart: (spec) => containers.createAndStart(spec),
    start: (id) => containers.start(id),
    recreate: (id, changes) => containers.recreate(id, changes),
    ready: (id) => containers.ready(id),
    stop: (id, timeoutSeconds) => containers.stop(id, timeoutSeconds),
    remove: (id) => containers.remove(id),
    logs: (id, logOptions, signal) => containers.logs(id, logOptions, signal),
    listManaged: () => containers.listManaged(),
    inspect: (id) => containers.inspect(id),
    ...imageOperations(images),
    watch: (onChange, signal) => events.watch(onChange, signal),
    watchImages: (onChange, signal) => events.watchImages(onChange, signal),
    answering: (timeoutMs) => engine.answering(ANSWERING_FRESH_MS, timeoutMs),
    // Containers reach this host at their network's gateway; without the network (the engine down), nothing.
    gatewayAddress: () =>
      network.ensure().then(
        (known) => known.gateway,
        () => undefined,
      ),
    localNode: async () => '',
    async localNetworks() {
      const [own, bridge] = await Promise.all([network.ensure(), engine.bridgeSubnets().catch(() => [])]);
      return [...new Set([...own.subnets, ...bridge])];
    },
  };
}
