import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import type { ContainerLimits } from '../../config/env.js';
import { LABELS } from '../../domain/containers/labels.js';
import type { RuntimeContainer } from '../../domain/containers/record.js';
import { DomainError } from '../../domain/errors.js';
import type { ContainerOperations, CreateSpec, LogOptions } from '../../domain/ports.js';
import type { EngineConnection } from './connection.js';
import { dockerStatus, translateDockerError } from './errors.js';
import { engineLogs } from './log-stream.js';
import { fromInspect, fromListing } from './mapping.js';

export interface ContainerOptions {
  /** This installation's name: the value of the instance label. */
  readonly instance: string;
  /** What every container is held to; 0 means no limit. */
  readonly limits: ContainerLimits;
  /** Host address the containers' ports are published on. */
  readonly publishAddress: string;
  /** The id of the network new containers are attached to (made when missing). */
  readonly network: () => Promise<string>;
}

/**
 * This installation's containers on the engine. Only containers that carry its label are ever started,
 * stopped or removed: any other id (a forged or stale record) counts as gone.
 */
export class DockerContainers implements ContainerOperations {
  /** Each container's health command, as its image gave it (it never changes): asked once, then run as often as needed. */
  private readonly healthCommands = new Map<string, string[]>();

  constructor(
    private readonly engine: EngineConnection,
    private readonly options: ContainerOptions,
  ) {}

  async createAndStart(spec: CreateSpec): Promise<RuntimeContainer> {
    const hostConfig = { ...this.hostConfig(spec.ports), NetworkMode: await this.options.network() };
    const { docker } = this.engine;
    const container = await this.engine.call('create the container', (abortSignal) =>
      docker.createContainer({
        Image: spec.image,
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        Labels: { ...spec.labels, [LABELS.instance]: this.options.instance },
        HostConfig: hostConfig,
        abortSignal,
      } as Docker.ContainerCreateOptions),
    );
    try {
      await this.engine.call('start the container', (abortSignal) => container.start({ abortSignal }));
      const info = await this.engine.call('inspect the container', (abortSignal) => container.inspect({ abortSignal }));
      return fromInspect(info);
    } catch (error) {
      // Created but not startable (or the engine stopped answering): leave nothing behind, then report why.
      await this.engine.call('remove the container', (abortSignal) => container.remove({ force: true, v: true, abortSignal })).catch(() => undefined);
      throw translateDockerError(error, 'start the container');
    }
  }

  async recreate(id: string, changes: { readonly ports: CreateSpec['ports']; readonly labels: CreateSpec['labels'] }): Promise<RuntimeContainer> {
    const { docker } = this.engine;
    const old = docker.getContainer(id);
    const info = await this.engine.call('inspect the container', (abortSignal) => old.inspect({ abortSignal }));
    // Its file system as it is now becomes an image of its own (its anonymous volumes are taken along as they are).
    const committed = (await this.engine.call('commit the container', () => old.commit({ repo: 'spin-docker-moved', tag: id.slice(0, 12), pause: false }), {
      extraMs: 5 * 60_000,
    })) as { Id: string };
    const mounts = (info.Mounts ?? [])
      .filter((mount) => mount.Type === 'volume' && mount.Name !== undefined)
      .map((mount) => ({ Type: 'volume' as const, Source: mount.Name as string, Target: mount.Destination, ReadOnly: !mount.RW }));
    const name = info.Name.replace(/^\//, '');
    await this.engine.call('rename the container', () => old.rename({ name: `${name}-moved-${Date.now()}` }));
    const config = info.Config;
    const created = await this.engine.call('create the container', (abortSignal) =>
      docker.createContainer({
        name,
        Image: committed.Id,
        Env: config.Env,
        Cmd: config.Cmd,
        Entrypoint: config.Entrypoint,
        WorkingDir: config.WorkingDir,
        User: config.User,
        ExposedPorts: config.ExposedPorts,
        Labels: { ...config.Labels, ...changes.labels, [LABELS.instance]: this.options.instance, [LABELS.movedImage]: committed.Id },
        // On the network it was on: its check-in URL names that network's gateway.
        HostConfig: { ...this.hostConfig(changes.ports), NetworkMode: info.HostConfig.NetworkMode, Mounts: mounts },
        abortSignal,
      } as Docker.ContainerCreateOptions),
    );
    await this.engine.call('remove the container', (abortSignal) => old.remove({ force: true, v: false, abortSignal }));
    const fresh = await this.inspect(created.id);
    if (fresh === null) throw new DomainError('internal', 'recreate_failed', `The container made anew for ${id} vanished`);
    return fresh;
  }

  async ready(id: string): Promise<boolean> {
    const container = this.engine.docker.getContainer(id);
    let command = this.healthCommands.get(id);
    if (command === undefined)
      command = this.noteHealthCommand(id, await this.engine.call('inspect the container', (abortSignal) => container.inspect({ abortSignal })));
    if (command.length === 0) return true;
    const exec = await this.engine.call('run the health check', () => container.exec({ Cmd: command, AttachStdout: false, AttachStderr: false }));
    await this.engine.call('run the health check', () => exec.start({ Detach: true }));
    for (const deadline = Date.now() + this.engine.timeoutMs; Date.now() < deadline;) {
      const state = await this.engine.call('run the health check', () => exec.inspect());
      if (!state.Running) return state.ExitCode === 0;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return false;
  }

  /** Keeps a container's health command, from an inspect made anyway (a start's), for `ready`. */
  private noteHealthCommand(id: string, info: Docker.ContainerInspectInfo): string[] {
    const test = info.Config.Healthcheck?.Test ?? [];
    const command = test[0] === 'CMD' ? test.slice(1) : test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', test[1] ?? 'true'] : [];
    if (this.healthCommands.size > 10_000) this.healthCommands.clear();
    this.healthCommands.set(id, command);
    return command;
  }

  async start(id: string): Promise<RuntimeContainer | null> {
    if ((await this.inspect(id)) === null) return null;
    try {
      await this.engine.call('start the container', (abortSignal) => this.engine.docker.getContainer(id).start({ abortSignal }));
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
      await this.engine.call('stop the container', (abortSignal) => this.engine.docker.getContainer(id).stop({ t: timeoutSeconds, abortSignal }), {
        extraMs: timeoutSeconds * 1000,
      });
      return 'stopped';
    } catch (error) {
      const status = dockerStatus(error);
      if (status === 304) return 'stopped';
      if (status === 404) return 'missing';
      throw error;
    }
  }

  async remove(id: string): Promise<void> {
    const container = await this.inspect(id);
    if (container === null) return;
    await this.removeContainer(id);
    // A container made anew on other ports ran from an image of its own: it goes with it.
    const moved = container.labels[LABELS.movedImage];
    if (moved !== undefined)
      await this.engine.call('remove image', (abortSignal) => this.engine.docker.getImage(moved).remove({ abortSignal } as object)).catch(() => undefined);
  }

  private async removeContainer(id: string): Promise<void> {
    try {
      await this.engine.call('remove the container', (abortSignal) => this.engine.docker.getContainer(id).remove({ force: true, v: true, abortSignal }));
    } catch (error) {
      const status = dockerStatus(error);
      if (status === 404) return;
      // 409 "removal already in progress" ends the same way.
      if (status === 409 && /in progress/i.test((error as Error).message)) return;
      throw error;
    }
  }

  async logs(id: string, options: LogOptions, signal: AbortSignal): Promise<Readable> {
    if ((await this.inspect(id)) === null) throw new DomainError('not_found', 'container_not_found', `Container ${id} doesn't exist`);
    return engineLogs(this.engine, `/containers/${id}/logs`, options, signal);
  }

  async listManaged(): Promise<RuntimeContainer[]> {
    const containers = await this.engine.call('list containers', (abortSignal) =>
      this.engine.docker.listContainers({ all: true, filters: { label: [`${LABELS.instance}=${this.options.instance}`] }, abortSignal }),
    );
    return containers.map(fromListing);
  }

  async inspect(id: string): Promise<RuntimeContainer | null> {
    try {
      const info = await this.engine.call('inspect the container', (abortSignal) => this.engine.docker.getContainer(id).inspect({ abortSignal }));
      if (info.Config.Labels?.[LABELS.instance] !== this.options.instance) return null;
      this.noteHealthCommand(id, info);
      return fromInspect(info);
    } catch (error) {
      if (dockerStatus(error) === 404) return null;
      throw error;
    }
  }

  /**
   * How every container runs: each exposed port on the host port chosen for it (of `publishAddress`), bound
   * explicitly so that every start reuses it, an init as PID 1 so that SIGTERM is honoured, the configured
   * limits, without NET_RAW, so that nobody on the shared bridge can forge packets (ARP spoofing another
   * container's address, say), with no-new-privileges (no setuid binary raises a process's rights), and with
   * its log kept by json-file in at most `logMaxFiles` files of `logMaxSize` (so a chatty container cannot
   * fill the host's disk).
   */
  private hostConfig(ports: CreateSpec['ports']): Docker.HostConfig {
    const { limits, publishAddress } = this.options;
    const config: Docker.HostConfig = {
      Init: true,
      RestartPolicy: { Name: 'no' },
      CapDrop: ['NET_RAW'],
      SecurityOpt: ['no-new-privileges'],
      LogConfig: { Type: 'json-file', Config: { 'max-size': limits.logMaxSize, 'max-file': String(limits.logMaxFiles) } },
      ...(limits.pids > 0 ? { PidsLimit: limits.pids } : {}),
      ...(limits.memory > 0 ? { Memory: limits.memory, MemorySwap: limits.memory } : {}),
      ...(limits.cpus > 0 ? { NanoCpus: Math.round(limits.cpus * 1e9) } : {}),
    };
    const bindings = Object.entries(ports).map(([inside, outside]) => [inside, [{ HostIp: publishAddress, HostPort: outside }]]);
    return { ...config, PortBindings: Object.fromEntries(bindings) };
  }
}
