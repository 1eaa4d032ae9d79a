import type Docker from 'dockerode';
import { firstHost, EngineConnection } from '../docker/connection.js';
import { DockerContainers } from '../docker/containers.js';
import type { DockerRuntimeOptions } from '../docker/docker.runtime.js';
import { DockerEvents } from '../docker/events.js';
import { DockerImages, imageOperations } from '../docker/images.js';
import { DockerNetwork } from '../docker/network.js';
import type { ContainerRuntime } from '../../domain/ports.js';
import { SwarmEvents } from './events.js';
import { SwarmServices } from './services.js';

const ANSWERING_FRESH_MS = 5_000;
/** The bridge by which a node's tasks on an overlay network reach that node (and it them): the swarm makes it. */
const GWBRIDGE = 'docker_gwbridge';

interface EngineNetwork {
  IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] | null };
}

/**
 * The domain's ContainerRuntime on a Docker Swarm, through its manager's Engine API (DOCKER_HOST): containers
 * are services of one task (services.ts) on an overlay network of the installation's own (SD_NETWORK, made
 * attachable when missing); images are the manager's. What must be done where a task runs goes to this
 * node's own engine (`nodeDocker`).
 */
export interface SwarmRuntimeOptions extends DockerRuntimeOptions {
  /** This node's own engine (SD_NODE_DOCKER_HOST), for what is done where the tasks run; the manager's when not given. */
  readonly nodeDocker?: Docker;
  readonly pollMs?: number;
  /** SD_STOP_TIMEOUT, in seconds. */
  readonly stopTimeoutSeconds: number;
  /** How long a start may take (under a create's mark: see services.ts). */
  readonly startTimeoutMs: number;
}

export function createSwarmRuntime(docker: Docker, options: SwarmRuntimeOptions): ContainerRuntime {
  const connection = { timeoutMs: options.timeoutMs, ...(options.onCall === undefined ? {} : { onCall: options.onCall }) };
  const engine = new EngineConnection(docker, connection);
  const nodeEngine = options.nodeDocker === undefined || options.nodeDocker === docker ? engine : new EngineConnection(options.nodeDocker, connection);
  const images = new DockerImages(engine);
  const network = new DockerNetwork(engine, {
    name: options.network,
    instance: options.instance,
    driver: 'overlay',
    ...(options.onOpenNetwork === undefined ? {} : { onOpen: options.onOpenNetwork }),
  });
  // This node's own containers: a task's health check runs here when its task does.
  const local = new DockerContainers(nodeEngine, { ...options, network: async () => (await network.ensure()).id });
  const services = new SwarmServices(engine, images, local, {
    instance: options.instance,
    limits: options.limits,
    network: async () => (await network.ensure()).id,
    stopTimeoutSeconds: options.stopTimeoutSeconds,
    startTimeoutMs: options.startTimeoutMs,
    nodeEngine,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
  });
  const events = new SwarmEvents(new DockerEvents(engine, options.instance), new DockerEvents(nodeEngine, options.instance), options.instance);
  const gwbridge = () =>
    engine
      .call('inspect the network', (abortSignal) => engine.get<EngineNetwork>(`/networks/${GWBRIDGE}`, 'network', abortSignal))
      .then((n) => {
        const configs = n.IPAM?.Config ?? [];
        const ipv4 = configs.find((c) => c.Subnet !== undefined && !c.Subnet.includes(':'));
        return {
          gateway: ipv4?.Gateway ?? (ipv4?.Subnet === undefined ? undefined : firstHost(ipv4.Subnet)),
          subnets: configs.flatMap((c) => (c.Subnet === undefined ? [] : [c.Subnet])),
        };
      });
  return {
    createAndStart: (spec) => services.createAndStart(spec),
    start: (id) => services.start(id),
    recreate: (id) => services.recreate(id),
    ready: (id) => services.ready(id),
    stop: (id, timeoutSeconds) => services.stop(id, timeoutSeconds),
    remove: (id) => services.remove(id),
    logs: (id, logOptions, signal) => services.logs(id, logOptions, signal),
    listManaged: () => services.listManaged(),
    inspect: (id) => services.inspect(id),
    ...imageOperations(images),
    watch: (onChange, signal) => events.watch(onChange, signal),
    watchImages: (onChange, signal) => events.watchImages(onChange, signal),
    answering: (timeoutMs) => engine.answering(ANSWERING_FRESH_MS, timeoutMs),
    // A task reaches its node at the gateway of the node's docker_gwbridge (made with the overlay network's first task).
    gatewayAddress: async () => {
      await network.ensure().catch(() => undefined);
      return gwbridge().then(
        (known) => known.gateway,
        () => undefined,
      );
    },
    localNode: async () => {
      const info = await nodeEngine.call('engine info', (abortSignal) => nodeEngine.get<{ Name?: string }>('/info', 'engine', abortSignal));
      return info.Name ?? '';
    },
    async localNetworks() {
      const [own, bridge] = await Promise.all([network.ensure(), gwbridge().catch(() => ({ subnets: [] }))]);
      return [...new Set([...own.subnets, ...bridge.subnets])];
    },
  };
}
