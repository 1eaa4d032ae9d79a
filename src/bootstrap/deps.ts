import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { BullJobQueue } from '../adapters/bullmq/job.queue.js';
import { createDockerClient } from '../adapters/docker/connection.js';
import { createDockerRuntime, type DockerRuntimeOptions } from '../adapters/docker/docker.runtime.js';
import { createSwarmRuntime } from '../adapters/swarm/swarm.runtime.js';
import { TaskProbe } from '../adapters/swarm/task-probe.js';
import { EngineConnection } from '../adapters/docker/connection.js';
import { registryAuths } from '../adapters/docker/registry-auth.js';
import { BindProbe } from '../adapters/net/host-ports.js';
import { resolveHost } from '../adapters/net/resolve.js';
import { ProcConnectionProbe } from '../adapters/proc/connection.probe.js';
import { createRedis, whenReady, type RedisRole } from '../adapters/redis/connection.js';
import { RedisContainerStore } from '../adapters/redis/container.store.js';
import { RedisEventLog } from '../adapters/redis/event-log.js';
import { keyPrefix } from '../adapters/redis/keys.js';
import { RedisLeases } from '../adapters/redis/leases.js';
import { RedisLoginThrottle } from '../adapters/redis/login-throttle.js';
import { RedisPullStore } from '../adapters/redis/pull.store.js';
import { ConfigError, type Config } from '../config/env.js';
import { createIdlePass, type IdlePass } from '../domain/activity/idle-pass.js';
import { createCheckIn, type CheckIn } from '../domain/containers/check-in.js';
import { createConsistency, type Consistency } from '../domain/containers/consistency.js';
import { createHostPorts, type HostPortAllocator } from '../domain/containers/host-ports.js';
import { createWake, type Wake } from '../domain/containers/wake.js';
import { createContainerJobs, type ContainerJobs } from '../domain/containers/jobs.js';
import { parseAuthorizedKeys, type AuthorizedKey } from '../domain/containers/options.js';
import { createContainerRequests, type ContainerRequests } from '../domain/containers/requests.js';
import type { ContainerSettings } from '../domain/containers/settings.js';
import { withContainerEvents, withPullEvents } from '../domain/events.js';
import { createImageCatalog, type ImageCatalog } from '../domain/images/catalog.js';
import { createImagePulls, type ImagePulls } from '../domain/images/pulls.js';
import type { Clock, ConnectionProbe, ContainerRuntime, ContainerStore, EventLog, JobQueue, Leases, LoginThrottle, RegistryAuth } from '../domain/ports.js';
import { createHealthReport, type HealthReport } from '../adapters/redis/health.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from '../adapters/prometheus/metrics.js';

/**
 * Everything a process needs, built once by its main.ts (or by a test): the adapters behind the domain's ports,
 * and the use cases on them. Typed by ports, so that another engine or store plugs in here and nowhere else.
 */
export interface Deps {
  readonly config: Config;
  readonly logger: Logger;
  /** The connection BullMQ's workers and the heartbeat use (the worker's). */
  readonly redis: Redis;
  readonly runtime: ContainerRuntime;
  /** The records; every write that matters to a watcher also goes to `events`. */
  readonly store: ContainerStore;
  /** The live event log (GET /v1/events), shared by every process. */
  readonly events: EventLog;
  readonly queue: JobQueue;
  readonly leases: Leases;
  readonly clock: Clock;
  /** The Redis key prefix of this installation. */
  readonly prefix: string;
  /** How containers are run (from the configuration). */
  readonly settings: ContainerSettings;
  /** Where new containers' host ports come from. */
  readonly hostPorts: HostPortAllocator;
  /** What clients' requests call (the API). */
  readonly requests: ContainerRequests;
  /** A container's report of its activity (the API). */
  readonly checkIn: CheckIn;
  /** The slow halves of stops and deletes (the worker's jobs). */
  readonly jobs: ContainerJobs;
  /** Keeping the records in line with Docker (the worker, and the API's audit). */
  readonly consistency: Consistency;
  /** Waking sleeping containers (the worker's listeners). */
  readonly wake: Wake;
  /** The idle stop's pass (the worker). */
  readonly idlePass: IdlePass;
  /** Failed logins, shared by every API process (used by the API only). */
  readonly loginThrottle: LoginThrottle;
  /** The engine's images, from memory (used by the API; it follows the engine from its first use). */
  readonly images: ImageCatalog;
  /** Pulls and removals of images (asked for by the API, carried out by the worker). */
  readonly pulls: ImagePulls;
  /** This process's Prometheus metrics. */
  readonly metrics: Metrics;
  /** Counts containers' connections on this host (used by the worker). */
  readonly probe: ConnectionProbe;
  /** Redis, Docker and the worker's heartbeat, for `GET /healthz`. */
  health(): Promise<HealthReport>;
  /** Closes queues and connections; call once, after the process stopped taking work. */
  close(): Promise<void>;
}

export interface BuildOptions {
  readonly role: RedisRole;
  /** Overrides the check-in URL handed to containers (tests listen on an ephemeral port). */
  readonly checkinUrl?: string;
  readonly clock?: Clock;
}

export async function buildDeps(config: Config, logger: Logger, options: BuildOptions): Promise<Deps> {
  const clock = options.clock ?? { now: Date.now };
  const redis = createRedis(config.redisUrl, options.role);
  redis.on('error', (error: Error) => logger.warn({ err: error.message }, 'redis connection error'));
  // The API counts containers by status (at each scrape, so `store` exists by then); the worker counts what it does.
  const metrics = createMetrics(options.role, options.role === 'api' ? { countByStatus: () => store.countByStatus() } : undefined);
  const docker = createDockerClient(config.dockerHost, config.dockerCertPath);
  const nodeDocker = config.nodeDockerHost === config.dockerHost ? docker : createDockerClient(config.nodeDockerHost, config.dockerCertPath);
  const runtimeOptions: DockerRuntimeOptions = {
    onCall: (operation, seconds, ok) => metrics.engineCalls.observe({ operation, outcome: ok ? 'ok' : 'error' }, seconds),
    instance: config.instance,
    timeoutMs: config.dockerTimeout * 1000,
    limits: config.containerLimits,
    publishAddress: config.publishAddress,
    network: config.network,
    onOpenNetwork: (name) =>
      logger.warn(
        { network: name },
        config.engine === 'swarm'
          ? "the containers' overlay network lets them reach each other (Docker's overlay driver has no switch for it)"
          : "the containers' network lets them reach each other (SD_NETWORK is bridge, or a network made by hand with inter-container traffic on)",
      ),
  };
  // A swarm start waits for its task: at most until a create's mark would expire, less one engine deadline for the record.
  const markSeconds = Math.max(config.orphanGrace, 3 * config.dockerTimeout);
  const runtime =
    config.engine === 'swarm'
      ? createSwarmRuntime(docker, {
          ...runtimeOptions,
          nodeDocker,
          stopTimeoutSeconds: config.stopTimeout,
          startTimeoutMs: Math.max(10, markSeconds - config.dockerTimeout) * 1000,
        })
      : createDockerRuntime(docker, runtimeOptions);
  const prefix = keyPrefix(config.instance);
  const eventLog = new RedisEventLog(redis, prefix, config.eventsMaxLength, logger);
  const unpublished = (error: unknown, type: string) => logger.warn({ err: (error as Error)?.message, type }, 'an event could not be published');
  const store = withContainerEvents(new RedisContainerStore(redis, prefix), eventLog, unpublished);
  const queue = new BullJobQueue(redis, config.instance);
  await whenReady(redis, 5_000);
  const settings: ContainerSettings = {
    disableTimeouts: config.disableTimeouts,
    initialTimeoutInterval: config.initialTimeoutInterval,
    timeoutInterval: config.timeoutInterval,
    stopTimeout: config.stopTimeout,
    checkinUrl: options.checkinUrl ?? config.checkinUrl ?? (await defaultCheckinUrl(runtime, config.checkinPort)),
    // A create is three engine calls (create, start, inspect), each allowed SD_DOCKER_TIMEOUT: a create younger
    // than that may still be on its way to a record, and its container is never taken for an unfinished one.
    orphanGrace: markSeconds,
    activitySources: config.activitySources,
    allowedImages: config.allowedImages,
    defaultSshKeys: await defaultSshKeys(config.sshAuthorizedKeysFile),
    portRange: config.portRange,
    maxPorts: config.maxPorts,
    maxContainers: config.maxContainers,
    wakeOnConnect: config.wakeOnConnect,
    maxLifetime: config.maxLifetime,
    deleteStoppedAfter: config.deleteStoppedAfter,
    expiryWarning: config.expiryWarning,
    quietConnection: config.quietConnection,
  };
  const hostProbe = new ProcConnectionProbe(config.procRoot, config.nodeDockerHost);
  // On a swarm, a record names a service: its task's container on this node is what the probe reads.
  const probe = config.engine === 'swarm' ? new TaskProbe(new EngineConnection(nodeDocker, { timeoutMs: config.dockerTimeout * 1000 }), hostProbe) : hostProbe;
  const useCaseDeps = { runtime, store, queue, clock, settings, logger, events: eventLog };
  const hostPorts = createHostPorts({ store, hostPorts: new BindProbe(config.publishAddress), clock, settings });
  const images = createImageCatalog({ runtime, logger, onReconnect: () => metrics.eventStreamReconnects.inc({ stream: 'images' }) });
  const pulls = createImagePulls({
    runtime,
    records: store,
    pulls: withPullEvents(new RedisPullStore(redis, prefix), eventLog, unpublished),
    queue,
    clock,
    settings: {
      allowedImages: config.allowedImages,
      allowedRegistries: config.allowedRegistries,
      resolveHost,
      pullTimeoutMs: config.pullTimeout * 1000,
      pullStallMs: config.pullStallTimeout * 1000,
      registryAuth: await registryAuth(config.registryAuthFile),
    },
  });
  return {
    config,
    logger,
    redis,
    runtime,
    store,
    events: eventLog,
    queue,
    leases: new RedisLeases(redis, prefix),
    clock,
    prefix,
    settings,
    hostPorts,
    requests: createContainerRequests({ ...useCaseDeps, hostPorts }),
    checkIn: createCheckIn(useCaseDeps),
    jobs: createContainerJobs(useCaseDeps),
    consistency: createConsistency(useCaseDeps),
    idlePass: createIdlePass({ ...useCaseDeps, probe }),
    wake: createWake({ ...useCaseDeps, hostPorts }),
    images,
    pulls,
    metrics,
    probe,
    loginThrottle: new RedisLoginThrottle(redis, prefix, {
      maxFailures: config.loginMaxFailures,
      lockoutSeconds: config.loginLockout,
      globalMaxFailures: config.loginGlobalMaxFailures,
    }),
    health: createHealthReport(redis, (ms) => runtime.answering(ms), prefix),
    async close() {
      eventLog.close();
      await images.close();
      await queue.close().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** The keys of SD_SSH_AUTHORIZED_KEYS_FILE; a file that cannot be read or holds a bad key stops the process. */
async function defaultSshKeys(file: string | undefined): Promise<readonly AuthorizedKey[]> {
  if (file === undefined) return [];
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(`Invalid configuration:\n  SD_SSH_AUTHORIZED_KEYS_FILE: cannot read ${file} (${error.code ?? error.message})`);
  });
  const parsed = parseAuthorizedKeys(text, 'SD_SSH_AUTHORIZED_KEYS_FILE');
  if (!parsed.ok) throw new ConfigError(`Invalid configuration:\n  ${parsed.error}`);
  return parsed.value;
}

/** Credentials from SD_REGISTRY_AUTH_FILE; a file that cannot be read or understood stops the process. */
async function registryAuth(file: string | undefined): Promise<(reference: string) => RegistryAuth | undefined> {
  if (file === undefined) return () => undefined;
  try {
    return registryAuths(await readFile(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`Invalid configuration:\n  SD_REGISTRY_AUTH_FILE: ${file} is not a Docker config.json with "auths" (${(error as Error).message})`);
  }
}

/** Containers reach the API through the bridge gateway; undefined when Docker cannot tell us yet. */
async function defaultCheckinUrl(runtime: Pick<ContainerRuntime, 'gatewayAddress'>, port: number): Promise<string | undefined> {
  const gateway = await runtime.gatewayAddress();
  return gateway === undefined ? undefined : `http://${gateway}:${port}/v1/check-in`;
}
