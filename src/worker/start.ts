import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from '../adapters/prometheus/metrics.js';
import { startHeartbeat } from '../adapters/redis/health.js';
import type { Config } from '../config/env.js';
import type { IdlePass } from '../domain/activity/idle-pass.js';
import type { ContainerRecord } from '../domain/containers/record.js';
import type { Consistency } from '../domain/containers/consistency.js';
import type { ContainerJobs } from '../domain/containers/jobs.js';
import type { ImagePulls } from '../domain/images/pulls.js';
import type { Wake } from '../domain/containers/wake.js';
import type { ConnectionProbe, ContainerRuntime, ContainerStore, EventLog, Leases } from '../domain/ports.js';
import { keepSleepers } from './sleepers.js';
import { followEngine } from './engine-follower.js';
import { startIdlePasses } from './idle-passes.js';
import { startJobWorkers } from './job-workers.js';
import { every } from './periodic.js';

/** What the worker runs on (bootstrap/deps.ts builds it, role worker). */
export interface WorkerDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly redis: Redis;
  readonly prefix: string;
  readonly runtime: Pick<ContainerRuntime, 'watch' | 'ready' | 'localNode'>;
  readonly jobs: ContainerJobs;
  readonly consistency: Consistency;
  readonly idlePass: IdlePass;
  readonly pulls: Pick<ImagePulls, 'carryOut' | 'settleAbandoned'>;
  readonly probe: ConnectionProbe;
  readonly leases: Leases;
  readonly metrics: Metrics;
  readonly store: Pick<ContainerStore, 'list' | 'get'>;
  readonly events: Pick<EventLog, 'subscribe'>;
  readonly wake: Wake;
}

export interface RunningWorker {
  /** Settles once Docker has been reconciled, unfinished work resumed and the first idle pass made. */
  readonly ready: Promise<void>;
  /** Stops taking work, lets the jobs in hand finish and stops following Docker; leaves `deps` open. */
  close(): Promise<void>;
}

/**
 * Everything the worker process does, on `deps` (role worker): the BullMQ workers, the engine follower, the
 * idle passes, and a periodic pass that re-queues unfinished work, reconciles every record with Docker and
 * fails pulls that nobody carries out.
 */
export function startWorker(deps: WorkerDeps): RunningWorker {
  const { config, logger } = deps;
  const workers = startJobWorkers({
    redis: deps.redis,
    instance: config.instance,
    concurrency: config.workerConcurrency,
    jobs: deps.jobs,
    pulls: deps.pulls,
    logger,
  });
  for (const worker of workers) {
    worker.on('completed', () => deps.metrics.jobs.inc({ queue: worker.name, outcome: 'completed' }));
    worker.on('failed', () => deps.metrics.jobs.inc({ queue: worker.name, outcome: 'failed' }));
  }
  const follower = followEngine({
    runtime: deps.runtime,
    consistency: deps.consistency,
    logger,
    onReconnect: () => deps.metrics.eventStreamReconnects.inc({ stream: 'containers' }),
  });
  // Per-host work (the idle pass, the sleeping containers' listeners) is for the records of this host: every
  // one on a single engine; on a swarm, those of this node (known once its engine has said which node it is;
  // until then, none), another node's being its own worker's.
  const swarm = config.engine === 'swarm';
  let node: string | undefined;
  let closing = false;
  // Asked until the engine answers (a worker may start before its node's dockerd does).
  const learnNode = async () => {
    for (let attempt = 0; !closing && node === undefined; attempt += 1) {
      try {
        node = await deps.runtime.localNode();
        logger.info({ node }, 'this worker watches the containers of swarm node');
      } catch (error) {
        if (attempt === 0) logger.warn({ err: error }, "cannot tell which swarm node this is yet; this node's containers are watched once it can");
        await new Promise((resolve) => setTimeout(resolve, 5_000).unref());
      }
    }
  };
  if (swarm) void learnNode();
  const onThisNode = swarm ? { onThisHost: (record: ContainerRecord) => node !== undefined && (record.node === node || record.node === '') } : {};
  const idle = startIdlePasses({
    ...onThisNode,
    sources: config.activitySources,
    intervalMs: config.activitySampleInterval * 1000,
    probe: deps.probe,
    pass: deps.idlePass,
    leases: deps.leases,
    host: hostname(),
    logger,
    metrics: deps.metrics,
    // What /healthz says follows at once, not at the next heartbeat (never called before the first pass,
    // which is asynchronous, so `heartbeat` exists by then).
    onModeChange: () => heartbeat.beat(),
  });
  const heartbeat = startHeartbeat(deps.redis, deps.prefix, () => idle.mode());
  const sleepers = keepSleepers({
    ...onThisNode,
    store: deps.store,
    events: deps.events,
    wake: deps.wake,
    runtime: deps.runtime,
    logger,
    metrics: deps.metrics,
    address: config.publishAddress,
    timeoutMs: config.wakeTimeout * 1000,
    maxHeld: config.wakeMaxHeld,
    // A task's overlay address is not reachable from its node: its published port is (host-mode publishing).
    ...(config.engine === 'swarm'
      ? { reach: (_record, port) => ({ host: config.publishAddress === '0.0.0.0' ? '127.0.0.1' : config.publishAddress, port: port.hostPort }) }
      : {}),
  });

  // The first pass (at start-up) only resumes: the follower reconciles everything as it opens the stream.
  const passes = every(
    config.reconcileInterval * 1000,
    async (first) => {
      const counts = await deps.consistency.resumeUnfinished();
      // Said at info when there was any (a worker killed mid-job, a lost queue); every pass else, at debug.
      logger[counts.stops + counts.deletes > 0 ? 'info' : 'debug'](counts, 'unfinished work resumed');
      const abandoned = await deps.pulls.settleAbandoned();
      if (abandoned > 0) logger.warn({ abandoned }, 'pulls that nobody carried out were failed');
      if (!first) await deps.consistency.reconcileAll();
    },
    (error) => logger.warn({ err: error }, 'periodic pass failed; will try again'),
  );

  return {
    ready: Promise.all([follower.ready, passes.first, idle.ready, sleepers.ready]).then(() => undefined),
    async close() {
      closing = true;
      heartbeat.stop();
      // Worker.close() waits for the jobs in hand to finish; a pass in progress is finished too.
      await Promise.all([passes.stop(), idle.close(), ...workers.map((w) => w.close()), follower.close(), sleepers.close()]);
    },
  };
}
