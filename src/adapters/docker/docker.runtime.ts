import Docker from 'dockerode';
import type { ContainerInfo, ContainerInspectInfo } from 'dockerode';
import type { PortMap, RuntimeContainer } from '../../domain/containers/record.js';
import type { ContainerRuntime, RunSpec } from '../../domain/ports.js';
import { dockerStatus, translateDockerError } from './errors.js';

/** The label every container we create carries; its value is the installation's name (SD_INSTANCE). */
export const INSTANCE_LABEL = 'io.spin-docker.instance';

/** Builds the process's one Dockerode client from a DOCKER_HOST value (unix://, tcp://, http(s)://). */
export function createDockerClient(dockerHost: string): Docker {
  if (dockerHost.startsWith('unix://')) return new Docker({ socketPath: dockerHost.slice('unix://'.length) });
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return new Docker({
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 2376 : 2375)),
  });
}

/** Docker's Ports section (from inspect) → one host port per container port, IPv4 binding preferred. */
export function portsFromInspect(ports: ContainerInspectInfo['NetworkSettings']['Ports'] | undefined): PortMap {
  const out: Record<string, string> = {};
  for (const [spec, bindings] of Object.entries(ports ?? {})) {
    if (!Array.isArray(bindings) || bindings.length === 0) continue;
    const binding = bindings.find((b) => !b.HostIp?.includes(':')) ?? bindings[0];
    if (binding?.HostPort) out[spec] = binding.HostPort;
  }
  return out;
}

/** Docker's Ports list (from a container listing) → the same map. */
export function portsFromListing(ports: ContainerInfo['Ports']): PortMap {
  const out: Record<string, string> = {};
  for (const port of ports) {
    if (port.PublicPort === undefined || port.PublicPort === 0) continue;
    const spec = `${port.PrivatePort}/${port.Type}`;
    if (out[spec] === undefined || !port.IP?.includes(':')) out[spec] = String(port.PublicPort);
  }
  return out;
}

/** '172.17.0.0/16' → '172.17.0.1': Docker gives a bridge's gateway the first host address when none is set. */
export function firstHost(subnet: string): string | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(subnet);
  if (match === null) return undefined;
  const [a, b, c, d, bits] = match.slice(1).map(Number) as [number, number, number, number, number];
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  const host = ((((a << 24) | (b << 16) | (c << 8) | d) & mask) >>> 0) + 1;
  return [host >>> 24, (host >>> 16) & 255, (host >>> 8) & 255, host & 255].join('.');
}

function firstAddress(networks: Record<string, { IPAddress?: string }> | undefined, primary?: string): string {
  if (primary) return primary;
  for (const network of Object.values(networks ?? {})) if (network.IPAddress) return network.IPAddress;
  return '';
}

function fromInspect(info: ContainerInspectInfo): RuntimeContainer {
  const running = info.State.Running;
  return {
    id: info.Id,
    name: info.Name,
    running,
    ports: running ? portsFromInspect(info.NetworkSettings.Ports) : {},
    ip: running ? firstAddress(info.NetworkSettings.Networks, (info.NetworkSettings as { IPAddress?: string }).IPAddress) : '',
    createdAt: Date.parse(info.Created),
  };
}

function fromListing(info: ContainerInfo): RuntimeContainer {
  const running = info.State === 'running';
  return {
    id: info.Id,
    name: info.Names[0] ?? '',
    running,
    ports: running ? portsFromListing(info.Ports) : {},
    ip: running ? firstAddress(info.NetworkSettings?.Networks) : '',
    createdAt: info.Created * 1000,
  };
}

/** The engine's events that change a container's state as we record it. */
const WATCHED_EVENTS = ['start', 'die', 'destroy'];

/** Splits Docker's newline-delimited JSON event stream and hands on the id of every container event. */
export function eventIds(onId: (id: string) => void): (chunk: Buffer | string) => void {
  let buffered = '';
  return (chunk) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        const event = JSON.parse(line) as { Type?: string; id?: string; Actor?: { ID?: string } };
        const id = event.Actor?.ID ?? event.id;
        if ((event.Type === undefined || event.Type === 'container') && typeof id === 'string') onId(id);
      } catch {
        // A line we cannot read names no container; the reconciliation after any gap covers it.
      }
    }
  };
}

/** The domain's ContainerRuntime on a real Docker engine, through the process's one Dockerode client. */
export class DockerRuntime implements ContainerRuntime {
  constructor(
    private readonly docker: Docker,
    /** This installation's name: the value of INSTANCE_LABEL. */
    private readonly instance: string,
  ) {}

  async listImages(): Promise<string[]> {
    const images = await this.call('list images', () => this.docker.listImages());
    return images
      .flatMap((image) => image.RepoTags ?? [])
      .filter((tag) => tag !== '<none>:<none>')
      .sort();
  }

  async imageExists(reference: string): Promise<boolean> {
    try {
      await this.docker.getImage(reference).inspect();
      return true;
    } catch (error) {
      if (dockerStatus(error) === 404) return false;
      throw translateDockerError(error, `inspect image ${reference}`);
    }
  }

  async run(spec: RunSpec): Promise<RuntimeContainer> {
    const container = await this.call('create the container', () =>
      this.docker.createContainer({
        Image: spec.image,
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        Labels: { [INSTANCE_LABEL]: this.instance },
        HostConfig: {
          // Every exposed port on an ephemeral host port; an init as PID 1 so that SIGTERM is honoured.
          PublishAllPorts: true,
          Init: true,
          RestartPolicy: { Name: 'no' },
        },
      }),
    );
    try {
      await container.start();
      return fromInspect(await container.inspect());
    } catch (error) {
      // Created but not startable: leave nothing behind, then report why.
      await container.remove({ force: true, v: true }).catch(() => undefined);
      throw translateDockerError(error, 'start the container');
    }
  }

  async start(id: string): Promise<RuntimeContainer | null> {
    const container = this.docker.getContainer(id);
    try {
      await container.start();
    } catch (error) {
      const status = dockerStatus(error);
      if (status === 404) return null;
      if (status !== 304) throw translateDockerError(error, 'start the container');
    }
    return this.inspect(id);
  }

  async stop(id: string, timeoutSeconds: number): Promise<'stopped' | 'missing'> {
    try {
      await this.docker.getContainer(id).stop({ t: timeoutSeconds });
      return 'stopped';
    } catch (error) {
      const status = dockerStatus(error);
      if (status === 304) return 'stopped';
      if (status === 404) return 'missing';
      throw translateDockerError(error, 'stop the container');
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (error) {
      const status = dockerStatus(error);
      if (status === 404) return;
      // 409 "removal already in progress" ends the same way.
      if (status === 409 && /in progress/i.test(String((error as Error).message))) return;
      throw translateDockerError(error, 'remove the container');
    }
  }

  async listManaged(): Promise<RuntimeContainer[]> {
    const containers = await this.call('list containers', () =>
      this.docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${this.instance}`] } }),
    );
    return containers.map(fromListing);
  }

  async inspect(id: string): Promise<RuntimeContainer | null> {
    try {
      return fromInspect(await this.docker.getContainer(id).inspect());
    } catch (error) {
      if (dockerStatus(error) === 404) return null;
      throw translateDockerError(error, 'inspect the container');
    }
  }

  async watch(onChange: (id: string) => void, signal: AbortSignal): Promise<{ readonly closed: Promise<void> }> {
    const stream = (await this.call('follow events', () =>
      this.docker.getEvents({
        filters: { type: ['container'], label: [`${INSTANCE_LABEL}=${this.instance}`], event: WATCHED_EVENTS },
        abortSignal: signal,
      } as Parameters<Docker['getEvents']>[0]),
    )) as NodeJS.ReadableStream & { destroy?: () => void };
    const closed = new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', abort);
        resolve();
      };
      const abort = () => {
        stream.destroy?.();
        done();
      };
      stream.on('data', eventIds(onChange));
      stream.once('end', done);
      stream.once('close', done);
      // `on`, not `once`: a stream may report more than one error, and none may go unhandled.
      stream.on('error', done);
      signal.addEventListener('abort', abort, { once: true });
      if (signal.aborted) abort();
    });
    return { closed };
  }

  /** The gateway of Docker's default bridge, where containers reach this host; undefined if unknown. */
  async bridgeGateway(): Promise<string | undefined> {
    try {
      const network = await this.docker.getNetwork('bridge').inspect();
      const configs = (network as { IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] } }).IPAM?.Config ?? [];
      const ipv4 = configs.find((c) => c.Subnet !== undefined && !c.Subnet.includes(':'));
      return ipv4?.Gateway ?? (ipv4?.Subnet === undefined ? undefined : firstHost(ipv4.Subnet));
    } catch {
      return undefined;
    }
  }

  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw translateDockerError(error, action);
    }
  }
}
