import { readFile } from 'node:fs/promises';
import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import { BullJobQueue } from '../adapters/bullmq/job.queue.js';
import { DockerRuntime, createDockerClient } from '../adapters/docker/docker.runtime.js';
import { ProcConnectionProbe } from '../adapters/proc/connection.probe.js';
import { createRedis, whenReady, type RedisRole } from '../adapters/redis/connection.js';
import { RedisContainerStore } from '../adapters/redis/container.store.js';
import { RedisEventLog } from '../adapters/redis/event-log.js';
import { withContainerEvents, withPullEvents } from '../domain/events.js';
import { RedisLoginThrottle } from '../adapters/redis/login-throttle.js';
import type { LoginThrottle } from '../api/middleware/login-throttle.js';
import { ConfigError, type Config } from '../config/env.js';
import { parseAuthorizedKeys, type AuthorizedKey } from '../domain/containers/options.js';
import { createImageCatalog, type ImageCatalog } from '../domain/images/catalog.js';
import { createImagePulls, type ImagePulls } from '../domain/images/pulls.js';
import { registryAuths } from '../adapters/docker/registry-auth.js';
import { RedisPullStore } from '../adapters/redis/pull.store.js';
import { createContainerService, type ContainerService } from '../domain/containers/containers.service.js';
import type { Clock, ConnectionProbe, ContainerStore, RegistryAuth } from '../domain/ports.js';
import { createHealthCheck, type HealthReport } from './health.js';
import { createMetrics, engineOperation, type Metrics } from './metrics.js';
import type { Logger } from './logger.js';

/** Everything a process needs, built once by its main.ts (or by a test). */
export interface Deps {
  readonly config: Config;
  readonly logger: Logger;
  readonly redis: Redis;
  readonly docker: Docker;
  readonly runtime: DockerRuntime;
  /** The records; every write that matters to a watcher also goes to `events`. */
  readonly store: ContainerStore;
  /** The live event log (GET /v1/events), shared by every process. */
  readonly events: RedisEventLog;
  readonly queue: BullJobQueue;
  readonly service: ContainerService;
  readonly clock: Clock;
  /** The Redis key prefix of this installation. */
  readonly prefix: string;
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

export const redisPrefix = (instance: string) => `spin-docker:${instance}:`;

export async function buildDeps(config: Config, logger: Logger, options: BuildOptions): Promise<Deps> {
  const clock = options.clock ?? { now: Date.now };
  const redis = createRedis(config.redisUrl, options.role);
  redis.on('error', (error: Error) => logger.warn({ err: error.message }, 'redis connection error'));
  const docker = createDockerClient(config.dockerHost);
  // The API counts containers by status (at each scrape, so `store` exists by then); the worker counts what it does.
  const metrics = createMetrics(options.role, options.role === 'api' ? { list: () => store.list() } : undefined);
  const runtime = new DockerRuntime(docker, {
    onCall: (action, seconds, ok) => metrics.engineCalls.observe({ operation: engineOperation(action), outcome: ok ? 'ok' : 'error' }, seconds),
    instance: config.instance,
    timeoutMs: config.dockerTimeout * 1000,
    limits: config.containerLimits,
    publishAddress: config.publishAddress,
  });
  const prefix = redisPrefix(config.instance);
  const events = new RedisEventLog(redis, prefix, config.eventsMaxLength, logger);
  const unpublished = (error: unknown, type: string) => logger.warn({ err: (error as Error)?.message, type }, 'an event could not be published');
  const store = withContainerEvents(new RedisContainerStore(redis, prefix), events, unpublished);
  const queue = new BullJobQueue(redis, config.instance, () => clock.now());
  await whenReady(redis, 5_000);
  const checkinUrl = options.checkinUrl ?? config.checkinUrl ?? (await defaultCheckinUrl(runtime, config.checkinPort));
  const service = createContainerService({
    runtime,
    store,
    queue,
    clock,
    logger,
    settings: {
      disableTimeouts: config.disableTimeouts,
      initialTimeoutInterval: config.initialTimeoutInterval,
      timeoutInterval: config.timeoutInterval,
      stopTimeout: config.stopTimeout,
      checkinUrl,
      // A create is three engine calls (create, start, inspect), each allowed SD_DOCKER_TIMEOUT: a container
      // younger than that may still be on its way to a record, and is never taken for an orphan.
      orphanGrace: Math.max(config.orphanGrace, 3 * config.dockerTimeout),
      activitySources: config.activitySources,
      allowedImages: config.allowedImages,
      defaultSshKeys: await defaultSshKeys(config.sshAuthorizedKeysFile),
    },
  });
  const images = createImageCatalog({ runtime, logger, onReconnect: () => metrics.eventStreamReconnects.inc({ stream: 'images' }) });
  const pulls = createImagePulls({
    runtime,
    records: store,
    pulls: withPullEvents(new RedisPullStore(redis, prefix), events, unpublished),
    queue,
    clock,
    settings: { allowedImages: config.allowedImages, pullTimeoutMs: config.pullTimeout * 1000, pullStallMs: config.pullStallTimeout * 1000, registryAuth: await registryAuth(config.registryAuthFile) },
  });
  return {
    config,
    logger,
    redis,
    docker,
    runtime,
    store,
    events,
    queue,
    service,
    clock,
    prefix,
    images,
    pulls,
    metrics,
    probe: new ProcConnectionProbe(config.procRoot, config.dockerHost),
    loginThrottle: new RedisLoginThrottle(redis, prefix, {
      maxFailures: config.loginMaxFailures,
      lockoutSeconds: config.loginLockout,
      globalMaxFailures: config.loginGlobalMaxFailures,
    }),
    health: createHealthCheck(redis, (ms) => runtime.ping(ms), prefix),
    async close() {
      events.close();
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
async function defaultCheckinUrl(runtime: DockerRuntime, port: number): Promise<string | undefined> {
  const gateway = await runtime.bridgeGateway();
  return gateway === undefined ? undefined : `http://${gateway}:${port}/v1/check-in`;
}
