import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Queue } from 'bullmq';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import supertest from 'supertest';
import { expect } from 'vitest';
import { QUEUES } from '../../src/adapters/bullmq/jobs.js';
import { INSTANCE_LABEL } from '../../src/adapters/docker/docker.runtime.js';
import { RedisContainerStore } from '../../src/adapters/redis/container.store.js';
import { bullPrefix, keyPrefix } from '../../src/adapters/redis/keys.js';
import { TEST_IMAGES } from './images.js';
import { freePort } from './net.js';
import { DockerProxy, PrivateRedis, kill, startProcess, type ServerProcess } from './processes.js';

/**
 * The compiled API and worker as separate processes, as they run in production: each with its own Redis
 * (append-only, restartable) and its own way to the Docker engine (a socket proxy that can go away).
 * `instance` labels its containers and prefixes its keys: one of its own per test file. `start()` is the
 * file's beforeAll, `close()` its afterAll; `api` and `worker` are the processes running now.
 */
export function processPair(instance: string) {
  const docker = new Docker();
  let redis: PrivateRedis;
  let proxy: DockerProxy;
  let client: Redis;
  let store: RedisContainerStore;
  let containerJobs: Queue;
  let port = 0;
  let api: ServerProcess | undefined;
  let worker: ServerProcess | undefined;

  const env = () => ({
    SD_HOST: '127.0.0.1',
    SD_PORT: String(port),
    SD_PASSWORD: 'pw',
    SD_INSTANCE: instance,
    SD_STOP_TIMEOUT: '4',
    REDIS_URL: redis.url,
    DOCKER_HOST: proxy.dockerHost,
  });

  async function startApi(): Promise<ServerProcess> {
    api = startProcess('api', env());
    await api.waitFor('API listening');
    return api;
  }

  async function startWorker(): Promise<ServerProcess> {
    worker = startProcess('worker', env());
    await worker.waitFor('worker started');
    return worker;
  }

  const http = () => supertest(`http://127.0.0.1:${port}`);

  async function create(image: string = TEST_IMAGES.stubborn): Promise<string> {
    const res = await http().post('/v1/containers').auth('admin', 'pw').send({ image });
    expect(res.status).toBe(201);
    return res.body.container_id as string;
  }

  const statusOf = async (id: string) => (await store.get(id))?.status ?? 'gone';
  const dockerRunning = async (id: string) => (await docker.getContainer(id).inspect()).State.Running;

  async function activeJobIds(): Promise<string[]> {
    return (await containerJobs.getActive()).map((job) => job.id ?? '');
  }

  async function start(): Promise<void> {
    if (!existsSync('dist/api/main.js')) throw new Error('run `npm run build` first (npm test does)');
    port = await freePort();
    redis = await PrivateRedis.start();
    proxy = new DockerProxy();
    await proxy.up();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    client.on('error', () => undefined);
    store = new RedisContainerStore(client, keyPrefix(instance));
    containerJobs = new Queue(QUEUES.containers, { connection: client, prefix: bullPrefix(instance) });
    await startApi();
    await startWorker();
  }

  async function close(): Promise<void> {
    await Promise.all([kill(api), kill(worker)]);
    await containerJobs?.close();
    client?.disconnect();
    const mine = await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${instance}`] } });
    await Promise.all(
      mine.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
    await redis?.destroy();
    await proxy?.destroy();
  }

  /** `node dist/cli/healthcheck.js <role>` with the processes' settings, as Docker's HEALTHCHECK runs it. */
  function healthcheck(role: 'api' | 'worker'): Promise<number | null> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['dist/cli/healthcheck.js', role], { env: { PATH: process.env.PATH, ...env() }, stdio: 'ignore' });
      child.once('exit', (code) => resolve(code));
    });
  }

  return {
    docker,
    http,
    create,
    statusOf,
    dockerRunning,
    activeJobIds,
    healthcheck,
    startApi,
    startWorker,
    start,
    close,
    /** The pair's own redis-server, to take down and bring back. */
    get redis(): PrivateRedis {
      return redis;
    },
    /** The socket proxy the processes reach Docker through, to take down and bring back. */
    get proxy(): DockerProxy {
      return proxy;
    },
    /** The test's own connection to the pair's Redis. */
    get client(): Redis {
      return client;
    },
    get api(): ServerProcess | undefined {
      return api;
    },
    get worker(): ServerProcess | undefined {
      return worker;
    },
  };
}
