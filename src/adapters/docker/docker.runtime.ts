import Docker from 'dockerode';
import type { ContainerInfo, ContainerInspectInfo } from 'dockerode';
import type { PortMap, RuntimeContainer } from '../../domain/containers/record.js';
import type { ContainerLimits } from '../../config/env.js';
import { PassThrough } from 'node:stream';
import { DomainError } from '../../domain/errors.js';
import type { ContainerRuntime, LogOptions, PullEvent, RegistryAuth, RunSpec } from '../../domain/ports.js';
import { createDemuxer } from './demux.js';
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
    pid: running ? info.State.Pid : 0,
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
    pid: 0,
  };
}

/** The engine's events that change a container's state as we record it. */
const WATCHED_EVENTS = ['start', 'die', 'destroy'];
/** The engine's events that change which tagged images it has. */
const IMAGE_EVENTS = ['pull', 'tag', 'untag', 'delete', 'import', 'load'];

/**
 * Splits a stream of newline-delimited JSON (the engine's events, a pull's progress) and hands on every object;
 * a line that is not JSON is skipped.
 */
export function jsonLines(onObject: (value: unknown) => void): (chunk: Buffer | string) => void {
  let buffered = '';
  return (chunk) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        continue;
      }
      onObject(value);
    }
  };
}

/**
 * Hands on the id of every container event. A line that cannot be read names no container; the
 * reconciliation after any gap covers it.
 */
export function eventIds(onId: (id: string) => void): (chunk: Buffer | string) => void {
  return jsonLines((value) => {
    const event = value as { Type?: string; id?: string; Actor?: { ID?: string } } | null;
    const id = event?.Actor?.ID ?? event?.id;
    if ((event?.Type === undefined || event.Type === 'container') && typeof id === 'string') onId(id);
  });
}

export interface DockerRuntimeOptions {
  /** This installation's name: the value of INSTANCE_LABEL. */
  readonly instance: string;
  /** Milliseconds any one engine call may take (a stop gets its own stop timeout on top). */
  readonly timeoutMs: number;
  /** What every container is held to; 0 means no limit. */
  readonly limits: ContainerLimits;
  /** Host address the containers' ports are published on. */
  readonly publishAddress: string;
  /** Told of every engine call's duration (for metrics). */
  readonly onCall?: (action: string, seconds: number, ok: boolean) => void;
}

const EVERY_ADDRESS = new Set(['0.0.0.0', '::']);

/**
 * The domain's ContainerRuntime on a real Docker engine, through the process's one Dockerode client.
 * Every call has a deadline: a hung engine is an unavailable one, never a request that hangs. Only
 * containers that carry this installation's label are ever started, stopped or removed: any other id
 * (a forged or stale record) counts as gone.
 */
export class DockerRuntime implements ContainerRuntime {
  private readonly instance: string;

  constructor(
    private readonly docker: Docker,
    private readonly options: DockerRuntimeOptions,
  ) {
    this.instance = options.instance;
  }

  async listImages(): Promise<string[]> {
    const images = await this.call('list images', (abortSignal) => this.docker.listImages({ abortSignal }));
    return images
      .flatMap((image) => image.RepoTags ?? [])
      .filter((tag) => tag !== '<none>:<none>')
      .sort();
  }

  async pullImage(reference: string, auth: RegistryAuth | undefined, onEvent: (event: PullEvent) => void, options: { timeoutMs: number; signal: AbortSignal }): Promise<void> {
    const { timeoutMs } = options;
    if (options.signal.aborted) throw options.signal.reason as Error;
    // The whole pull, stream included, under one deadline of its own (pulls are long), or until the caller gives up.
    await this.call(
      `pull ${reference}`,
      async (deadline) => {
        const abortSignal = AbortSignal.any([deadline, options.signal]);
        const given = () => (options.signal.aborted ? (options.signal.reason as Error) : new DeadlineError(timeoutMs));
        const stream = (await this.docker.pull(reference, { abortSignal, ...(auth === undefined ? {} : { authconfig: auth }) } as object)) as NodeJS.ReadableStream & {
          destroy?: () => void;
        };
        await new Promise<void>((resolve, reject) => {
          let failure: string | undefined;
          const onAbort = () => stream.destroy?.();
          abortSignal.addEventListener('abort', onAbort, { once: true });
          const settle = (error?: Error) => {
            abortSignal.removeEventListener('abort', onAbort);
            if (error !== undefined) reject(error);
            else if (failure !== undefined) reject(new Error(failure));
            else resolve();
          };
          stream.on(
            'data',
            jsonLines((value) => {
              const event = (value ?? {}) as PullEvent;
              if (event.error !== undefined) failure = event.error;
              else onEvent(event);
            }),
          );
          stream.once('end', () => settle());
          stream.once('error', (error: Error) => settle(abortSignal.aborted ? given() : error));
          stream.once('close', () => settle(abortSignal.aborted ? given() : undefined));
        });
      },
      0,
      timeoutMs,
    );
  }

  async removeImage(reference: string): Promise<'removed' | 'missing'> {
    try {
      await this.call(`remove image ${reference}`, (abortSignal) => this.docker.getImage(reference).remove({ abortSignal } as object));
      return 'removed';
    } catch (error) {
      if (dockerStatus(error) === 404) return 'missing';
      throw error;
    }
  }

  async imageExists(reference: string): Promise<boolean> {
    return (await this.inspectImage(reference)) !== null;
  }

  async run(spec: RunSpec): Promise<RuntimeContainer> {
    const hostConfig = await this.hostConfig(spec.image);
    const container = await this.call('create the container', (abortSignal) =>
      this.docker.createContainer({
        Image: spec.image,
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        Labels: { [INSTANCE_LABEL]: this.instance },
        HostConfig: hostConfig,
        abortSignal,
      } as Docker.ContainerCreateOptions),
    );
    try {
      await this.call('start the container', (abortSignal) => container.start({ abortSignal }));
      const info = await this.call('inspect the container', (abortSignal) => container.inspect({ abortSignal }));
      return fromInspect(info);
    } catch (error) {
      // Created but not startable (or the engine stopped answering): leave nothing behind, then report why.
      await this.call('remove the container', (abortSignal) => container.remove({ force: true, v: true, abortSignal })).catch(() => undefined);
      throw translateDockerError(error, 'start the container');
    }
  }

  async start(id: string): Promise<RuntimeContainer | null> {
    if ((await this.inspect(id)) === null) return null;
    try {
      await this.call('start the container', (abortSignal) => this.docker.getContainer(id).start({ abortSignal }));
    } catch (error) {
      const status = dockerStatus(error);
      if (status === 404) return null;
      if (status !== 304) throw error;
    }
    return this.inspect(id);
  }

  async stop(id: string, timeoutSeconds: number): Promise<'stopped' | 'missing'> {
    if ((await this.inspect(id)) === null) return 'missing';
    try {
      // Docker itself waits up to `timeoutSeconds` before SIGKILL: the deadline allows for that.
      await this.call('stop the container', (abortSignal) => this.docker.getContainer(id).stop({ t: timeoutSeconds, abortSignal }), timeoutSeconds * 1000);
      return 'stopped';
    } catch (error) {
      const status = dockerStatus(error);
      if (status === 304) return 'stopped';
      if (status === 404) return 'missing';
      throw error;
    }
  }

  async remove(id: string): Promise<void> {
    if ((await this.inspect(id)) === null) return;
    try {
      await this.call('remove the container', (abortSignal) => this.docker.getContainer(id).remove({ force: true, v: true, abortSignal }));
    } catch (error) {
      const status = dockerStatus(error);
      if (status === 404) return;
      // 409 "removal already in progress" ends the same way.
      if (status === 409 && /in progress/i.test((error as Error).message)) return;
      throw error;
    }
  }

  async logs(id: string, options: LogOptions, signal: AbortSignal): Promise<NodeJS.ReadableStream> {
    if ((await this.inspect(id)) === null) throw new DomainError('not_found', 'container_not_found', `Container ${id} doesn't exist`);
    const out = new PassThrough();
    const push = createDemuxer((payload) => out.write(payload));
    const request = { stdout: true, stderr: true, tail: options.tail, timestamps: options.timestamps };
    if (!options.follow) {
      // Without follow the engine answers at once, with every frame in one body.
      const body = await this.call('read the logs', (abortSignal) =>
        this.docker.getContainer(id).logs({ ...request, follow: false, abortSignal } as object) as unknown as Promise<Buffer>,
      );
      push(Buffer.isBuffer(body) ? body : Buffer.from(String(body)));
      out.end();
      return out;
    }
    // Following lives as long as the container runs or the caller listens; only opening it has a deadline.
    const following = new AbortController();
    const deadline = setTimeout(() => following.abort(new DeadlineError(this.options.timeoutMs)), this.options.timeoutMs);
    const stop = () => following.abort();
    signal.addEventListener('abort', stop, { once: true });
    let stream: NodeJS.ReadableStream & { destroy?: () => void };
    try {
      stream = (await this.call('follow the logs', () =>
        this.docker.getContainer(id).logs({ ...request, follow: true, abortSignal: following.signal } as object) as unknown as Promise<NodeJS.ReadableStream>,
      )) as NodeJS.ReadableStream & { destroy?: () => void };
    } catch (error) {
      signal.removeEventListener('abort', stop);
      throw error;
    } finally {
      clearTimeout(deadline);
    }
    const end = () => {
      signal.removeEventListener('abort', stop);
      stream.destroy?.();
      out.end();
    };
    stream.on('data', (chunk: Buffer) => push(chunk));
    stream.once('end', end);
    stream.once('close', end);
    stream.on('error', end);
    following.signal.addEventListener('abort', end, { once: true });
    return out;
  }

  async listManaged(): Promise<RuntimeContainer[]> {
    const containers = await this.call('list containers', (abortSignal) =>
      this.docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${this.instance}`] }, abortSignal }),
    );
    return containers.map(fromListing);
  }

  /** What Docker says about one of our containers; null when it is gone or is not ours (no label of this installation). */
  async inspect(id: string): Promise<RuntimeContainer | null> {
    try {
      const info = await this.call('inspect the container', (abortSignal) => this.docker.getContainer(id).inspect({ abortSignal }));
      return info.Config.Labels?.[INSTANCE_LABEL] === this.instance ? fromInspect(info) : null;
    } catch (error) {
      if (dockerStatus(error) === 404) return null;
      throw error;
    }
  }

  async watch(onChange: (id: string) => void, signal: AbortSignal): Promise<{ readonly closed: Promise<void> }> {
    const filters = { type: ['container'], label: [`${INSTANCE_LABEL}=${this.instance}`], event: WATCHED_EVENTS };
    return this.follow(filters, eventIds(onChange), signal);
  }

  async watchImages(onChange: () => void, signal: AbortSignal): Promise<{ readonly closed: Promise<void> }> {
    return this.follow({ type: ['image'], event: IMAGE_EVENTS }, () => onChange(), signal);
  }

  /**
   * Follows the engine's event stream with these filters until `signal` aborts; only opening it has a
   * deadline. Resolves once it is open, with `closed`, which settles when it ends, fails or is aborted.
   */
  private async follow(filters: Record<string, string[]>, onData: (chunk: Buffer | string) => void, signal: AbortSignal): Promise<{ readonly closed: Promise<void> }> {
    const opening = new AbortController();
    const stopOpening = () => opening.abort(signal.reason);
    signal.addEventListener('abort', stopOpening, { once: true });
    const deadline = setTimeout(() => opening.abort(new DeadlineError()), this.options.timeoutMs);
    let stream: NodeJS.ReadableStream & { destroy?: () => void };
    try {
      stream = (await this.call('follow events', () =>
        this.docker.getEvents({ filters, abortSignal: opening.signal } as Parameters<Docker['getEvents']>[0]),
      )) as NodeJS.ReadableStream & { destroy?: () => void };
    } finally {
      clearTimeout(deadline);
      signal.removeEventListener('abort', stopOpening);
    }
    const closed = new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', abort);
        resolve();
      };
      const abort = () => {
        stream.destroy?.();
        done();
      };
      stream.on('data', onData);
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
      const network = await this.call('inspect the bridge', (abortSignal) => this.get<unknown>('/networks/bridge', 'network', abortSignal));
      const configs = (network as { IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] } }).IPAM?.Config ?? [];
      const ipv4 = configs.find((c) => c.Subnet !== undefined && !c.Subnet.includes(':'));
      return ipv4?.Gateway ?? (ipv4?.Subnet === undefined ? undefined : firstHost(ipv4.Subnet));
    } catch {
      return undefined;
    }
  }

  /** Whether the engine answers a ping within the deadline (the request is dropped when it does not). */
  async ping(timeoutMs = this.options.timeoutMs): Promise<boolean> {
    try {
      await this.call('ping', (abortSignal) => this.docker.ping(withSignal(abortSignal)) as unknown as Promise<unknown>, 0, timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  private async inspectImage(reference: string): Promise<Docker.ImageInspectInfo | null> {
    try {
      return await this.call(`inspect image ${reference}`, (abortSignal) => this.get<Docker.ImageInspectInfo>(`/images/${reference}/json`, 'image', abortSignal));
    } catch (error) {
      if (dockerStatus(error) === 404) return null;
      throw error;
    }
  }

  /**
   * How every container runs: each exposed port on an ephemeral host port (of `publishAddress`), an init as
   * PID 1 so that SIGTERM is honoured, the configured limits, and without NET_RAW, so that nobody on the shared
   * bridge can forge packets (ARP spoofing another container's address, say).
   */
  private async hostConfig(image: string): Promise<Docker.HostConfig> {
    const { limits, publishAddress } = this.options;
    const config: Docker.HostConfig = {
      Init: true,
      RestartPolicy: { Name: 'no' },
      CapDrop: ['NET_RAW'],
      ...(limits.pids > 0 ? { PidsLimit: limits.pids } : {}),
      ...(limits.memory > 0 ? { Memory: limits.memory, MemorySwap: limits.memory } : {}),
      ...(limits.cpus > 0 ? { NanoCpus: Math.round(limits.cpus * 1e9) } : {}),
    };
    if (EVERY_ADDRESS.has(publishAddress)) return { ...config, PublishAllPorts: true };
    // PublishAllPorts always binds every address: bind each exposed port to the one asked for instead.
    const exposed = Object.keys((await this.inspectImage(image))?.Config?.ExposedPorts ?? {});
    return { ...config, PortBindings: Object.fromEntries(exposed.map((port) => [port, [{ HostIp: publishAddress, HostPort: '' }]])) };
  }

  /** A GET of the Engine API with a signal (dockerode does not pass one on for image and network inspects). */
  private get<T>(path: string, what: string, abortSignal: AbortSignal): Promise<T> {
    const modem = this.docker.modem as { dial(options: object, callback: (error: unknown, data: unknown) => void): void };
    return new Promise((resolve, reject) => {
      modem.dial({ path, method: 'GET', abortSignal, statusCodes: { 200: true, 404: `no such ${what}`, 500: 'server error' } }, (error, data) =>
        error ? reject(error as Error) : resolve(data as T),
      );
    });
  }

  /**
   * One engine call with a deadline (`timeoutMs`, plus `extraMs` for calls that wait on purpose); whatever it
   * throws is translated, and a missed deadline counts as the engine being unavailable. The request is
   * dropped at the deadline, so a hung engine holds no socket of ours.
   */
  private async call<T>(action: string, fn: (abortSignal: AbortSignal) => Promise<T>, extraMs = 0, timeoutMs = this.options.timeoutMs): Promise<T> {
    const deadline = timeoutMs + extraMs;
    const signal = AbortSignal.timeout(deadline);
    // Should a call ever ignore its signal, the caller is still answered at the deadline.
    const late = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new DeadlineError(deadline)), { once: true }));
    // The timer fires whether or not the call is done by then; that late rejection is nobody's business.
    late.catch(() => undefined);
    const started = performance.now();
    let ok = false;
    try {
      const result = await Promise.race([fn(signal), late]);
      ok = true;
      return result;
    } catch (error) {
      throw translateDockerError(isAbort(error) ? new DeadlineError(deadline) : error, action);
    } finally {
      this.options.onCall?.(action, (performance.now() - started) / 1000, ok);
    }
  }
}

/** The engine did not answer in time. */
export class DeadlineError extends Error {
  override name = 'DeadlineError';
  readonly code = 'ETIMEDOUT';
  constructor(ms?: number) {
    super(ms === undefined ? 'The Docker engine did not answer in time' : `The Docker engine did not answer within ${ms / 1000} s`);
  }
}

/** dockerode honours `abortSignal` on every call, though its typings do not say so on all of them. */
function withSignal(abortSignal: AbortSignal): never {
  return { abortSignal } as never;
}

function isAbort(error: unknown): boolean {
  const name = (error as Error | null)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}
