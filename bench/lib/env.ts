import { noLifetime } from '../../src/domain/containers/record.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { BullJobQueue } from '../../src/adapters/bullmq/job.queue.js';
import { INSTANCE_LABEL } from '../../src/adapters/docker/docker.runtime.js';
import { RedisContainerStore } from '../../src/adapters/redis/container.store.js';
import type { ContainerRecord } from '../../src/domain/containers/record.js';
import { keyPrefix } from '../../src/adapters/redis/keys.js';

export const DEMO_IMAGE = 'spin-docker/demo';
const PASSWORD = 'bench-password';

/** The server under test (API and worker as the real compiled processes), its Redis, and the raw engine. */
export interface BenchEnv {
  readonly quick: boolean;
  readonly url: string;
  readonly authorization: string;
  readonly instance: string;
  /** Label value for the raw engine's containers, so that our worker never sees them. */
  readonly rawInstance: string;
  readonly apiPid: number;
  /** The private redis-server's PID. */
  readonly redisPid: number;
  /** The worker's PID (a new one after restartWorker()). */
  readonly workerPid: number;
  /** Stops the worker (SIGTERM) and starts a new one; resolves once it has said it started, with when it was spawned. */
  restartWorker(): Promise<{ readonly spawnedAt: number }>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly docker: Docker;
  readonly redis: Redis;
  readonly store: RedisContainerStore;
  readonly queue: BullJobQueue;
  readonly prefix: string;
  readonly gateway: string;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function spawnLogged(command: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // Kept short: the processes log every request at info, as in production.
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => output };
}

/** CPU time (user + system) a process has used so far, in ms, from /proc. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100;
}

/** Resident memory of a process, in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const line =
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:')) ?? '';
  return Number(/(\d+)/.exec(line)?.[1] ?? 0) / 1024;
}

/**
 * Starts a private redis-server (append-only, as `npm start` runs it), the compiled API and worker, and
 * builds the demo image when missing. Everything is removed again by close().
 */
/** `extra`: settings of the server under test on top of the bench's own (SD_ENGINE=swarm, for the swarm scenario). */
export async function startBenchEnv(quick: boolean, extra: Readonly<Record<string, string>> = {}): Promise<BenchEnv> {
  const docker = new Docker();
  await docker.ping();
  if (!(await docker.listImages({ filters: { reference: [DEMO_IMAGE] } })).length) {
    execFileSync('bash', ['images/build.sh', 'demo'], { stdio: 'inherit' });
  }
  const instance = `bench-${randomBytes(3).toString('hex')}`;
  const rawInstance = `${instance}-raw`;
  const dataDir = mkdtempSync(join(tmpdir(), 'sd-bench-'));
  const redisPort = await freePort();
  const redisServer = spawnLogged(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''],
    process.env,
  );
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  await waitFor('redis-server', () => redisServer.output().includes('Ready to accept connections'));

  const apiPort = await freePort();
  const env = {
    PATH: process.env.PATH,
    SD_HOST: '0.0.0.0',
    SD_PORT: String(apiPort),
    SD_PASSWORD: PASSWORD,
    SD_INSTANCE: instance,
    REDIS_URL: redisUrl,
    // The list, check-in and sweep scenarios write records that have no container; the periodic full pass
    // would rightly forget them mid-measurement, so it is pushed out of the run (events still count).
    SD_RECONCILE_INTERVAL: '3600',
    ...extra,
  };
  // BENCH_PROFILE=1: CPU profiles of both processes in bench/results/profiles (open them in Chrome's devtools).
  const profile = process.env.BENCH_PROFILE === '1' ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : [];
  const api = spawnLogged(process.execPath, [...profile, 'dist/api/main.js'], env);
  let worker = spawnLogged(process.execPath, [...profile, 'dist/worker/main.js'], env);
  await waitFor('the API', () => api.output().includes('API listening'));
  await waitFor('the worker', () => worker.output().includes('worker started'));

  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const prefix = keyPrefix(instance);
  const network = await docker.getNetwork('bridge').inspect();
  const subnet = (network as { IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] } }).IPAM?.Config?.[0];
  const queue = new BullJobQueue(redis, instance);
  return {
    quick,
    url: `http://127.0.0.1:${apiPort}`,
    authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`,
    instance,
    rawInstance,
    apiPid: api.child.pid as number,
    redisPid: redisServer.child.pid as number,
    get workerPid() {
      return worker.child.pid as number;
    },
    env,
    async restartWorker() {
      const old = worker.child;
      const exited = new Promise((resolve) => (old.exitCode === null ? old.once('exit', resolve) : resolve(null)));
      old.kill('SIGTERM');
      await exited;
      const spawnedAt = performance.now();
      worker = spawnLogged(process.execPath, [...profile, 'dist/worker/main.js'], env);
      await waitFor('the worker', () => worker.output().includes('worker started'));
      return { spawnedAt };
    },
    docker,
    redis,
    store: new RedisContainerStore(redis, prefix),
    queue,
    prefix,
    gateway: subnet?.Gateway ?? '172.17.0.1',
    async close() {
      for (const label of [instance, rawInstance]) await removeLabelled(docker, label);
      for (const { child } of [api, worker]) child.kill('SIGTERM');
      await Promise.all([api, worker].map(({ child }) => new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)))));
      await queue.close();
      redis.disconnect();
      redisServer.child.kill('SIGTERM');
      await new Promise((resolve) => redisServer.child.once('exit', resolve));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function removeLabelled(docker: Docker, instance: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${instance}`] } });
  for (let i = 0; i < containers.length; i += 10) {
    await Promise.all(
      containers.slice(i, i + 10).map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
  }
}

/** Waits until the store holds no record (after the containers behind them were removed). */
export async function drained(env: BenchEnv): Promise<void> {
  await waitFor('the records to drain', async () => (await env.redis.zcard(`${env.prefix}ids`)) === 0, 60_000);
}

/**
 * A record as the server writes it, for a container that does not exist: the list, check-in and sweep
 * scenarios need thousands, far more than this machine can run.
 */
export function syntheticRecord(i: number, overrides: Partial<ContainerRecord> = {}): ContainerRecord {
  const id = randomBytes(32).toString('hex');
  return {
    id,
    name: `/bench_${i}`,
    image: DEMO_IMAGE,
    status: 'running',
    wakeOnConnect: false,
    active: 0,
    ports: { '22/tcp': String(32768 + (i % 20000)), '80/tcp': String(42768 + (i % 20000)) },
    ip: `10.${200 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`,
    node: '',
    startCount: 1,
    checkinAt: null,
    createdAt: Date.now(),
    nextCheckAt: null,
    strikes: 0,
    tokenHash: randomBytes(32).toString('hex'),
    pid: 0,
    connections: null,
    observedAt: null,
    sshKeys: [],
    ...noLifetime,
    ...overrides,
  };
}

/** Inserts records through the server's own store, 200 at a time. */
export async function insertRecords(env: BenchEnv, records: readonly ContainerRecord[]): Promise<void> {
  for (let i = 0; i < records.length; i += 200) await Promise.all(records.slice(i, i + 200).map((r) => env.store.insert(r)));
}

export async function removeRecords(env: BenchEnv, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 200) await Promise.all(ids.slice(i, i + 200).map((id) => env.store.remove(id)));
}

/** What `docker run -d -P --init` does through the Engine API: the raw path a script would take. */
export async function rawRun(env: BenchEnv): Promise<string> {
  const container = await env.docker.createContainer({
    Image: DEMO_IMAGE,
    Env: [`SD_CHECKIN_TOKEN=${randomBytes(24).toString('base64url')}`, `SD_CHECKIN_URL=http://${env.gateway}:1/v1/check-in`],
    Labels: { [INSTANCE_LABEL]: env.rawInstance },
    HostConfig: { ...(await serverHostConfig(env)), PublishAllPorts: true },
  });
  await container.start();
  await container.inspect();
  return container.id;
}

const learned = new WeakMap<BenchEnv, Promise<Docker.HostConfig>>();

/**
 * The options the server makes its containers with (its network, limits, dropped capability, log rotation), read
 * off one it made, so that the raw engine's side does the same work: a user-defined network with
 * inter-container traffic off and a memory cap cost the engine more than the default bridge does. Only the port
 * bindings differ: the raw side lets the engine pick (PublishAllPorts).
 */
export function serverHostConfig(env: BenchEnv): Promise<Docker.HostConfig> {
  let options = learned.get(env);
  if (options === undefined) {
    options = (async () => {
      const id = await apiCreate(env);
      const { HostConfig: made } = await env.docker.getContainer(id).inspect();
      const deleted = await fetch(`${env.url}/v1/containers/${id}`, { method: 'DELETE', headers: { authorization: env.authorization } });
      if (deleted.status !== 204) throw new Error(`delete answered ${deleted.status}`);
      // Gone before any scenario measures: the worker's delete would otherwise overlap the first one.
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
        const res = await fetch(`${env.url}/v1/containers/${id}`, { headers: { authorization: env.authorization } });
        await res.arrayBuffer();
        if (res.status === 404) break;
      }
      const same = ['Init', 'RestartPolicy', 'CapDrop', 'SecurityOpt', 'LogConfig', 'PidsLimit', 'Memory', 'MemorySwap', 'NanoCpus', 'NetworkMode'] as const;
      return Object.fromEntries(same.filter((key) => made[key] !== undefined && made[key] !== null).map((key) => [key, made[key]])) as Docker.HostConfig;
    })();
    learned.set(env, options);
  }
  return options;
}

/** POST /v1/containers until its answer is read; returns the container id. */
export async function apiCreate(env: BenchEnv): Promise<string> {
  const res = await fetch(`${env.url}/v1/containers`, {
    method: 'POST',
    headers: { authorization: env.authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ image: DEMO_IMAGE }),
  });
  const body = (await res.json()) as { container_id?: string; message?: string };
  if (res.status !== 201 || body.container_id === undefined) throw new Error(`create answered ${res.status}: ${body.message}`);
  return body.container_id;
}
