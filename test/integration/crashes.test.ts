import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Queue } from 'bullmq';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES, jobIds } from '../../src/adapters/bullmq/jobs.js';
import { bullPrefix } from '../../src/adapters/redis/keys.js';
import { INSTANCE_LABEL } from '../../src/adapters/docker/docker.runtime.js';
import { RedisContainerStore } from '../../src/adapters/redis/container.store.js';
import { keyPrefix } from '../../src/adapters/redis/keys.js';
import { TEST_IMAGES } from '../support/images.js';
import { freePort } from '../support/net.js';
import { DockerProxy, PrivateRedis, kill, startProcess, type ServerProcess } from '../support/processes.js';

/**
 * Faults against the compiled API and worker as separate processes, as they run in production: each with its
 * own Redis (append-only, restartable) and its own way to the Docker engine (a socket proxy that can go away).
 */
const instance = `test-crash-${process.pid}`;
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

beforeAll(async () => {
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
});

afterAll(async () => {
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
});

/** `node dist/cli/healthcheck.js <role>` with the processes' settings, as Docker's HEALTHCHECK runs it. */
function healthcheck(role: 'api' | 'worker'): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['dist/cli/healthcheck.js', role], { env: { PATH: process.env.PATH, ...env() }, stdio: 'ignore' });
    child.once('exit', (code) => resolve(code));
  });
}

describe('health checks', () => {
  it('say healthy for the running API and worker, and unhealthy for a worker that is gone', async () => {
    expect(await healthcheck('api')).toBe(0);
    expect(await healthcheck('worker')).toBe(0);
    await kill(worker);
    // SIGKILL leaves the heartbeat to expire; a graceful stop removes it at once.
    await client.del(`${keyPrefix(instance)}worker:heartbeat`);
    expect(await healthcheck('worker')).toBe(1);
    await startWorker();
    expect(await healthcheck('worker')).toBe(0);
  });
});

describe('a worker killed in the middle of its jobs', () => {
  it('finishes the stop and the delete it was running once it is started again (SIGKILL)', async () => {
    // The stubborn image ignores SIGTERM, so each job is inside Docker's 4-second stop when the worker dies.
    const stopId = await create();
    const deleteId = await create();
    expect((await http().patch(`/v1/containers/${stopId}`).auth('admin', 'pw').send({ status: 'stopped' })).body.status).toBe('stopping');
    expect((await http().delete(`/v1/containers/${deleteId}`).auth('admin', 'pw')).status).toBe(204);
    await expect.poll(activeJobIds, { timeout: 10_000, interval: 50 }).toEqual(expect.arrayContaining([jobIds.stop(stopId, 1), jobIds.delete(deleteId)]));

    await kill(worker);
    expect(await statusOf(stopId)).toBe('stopping');
    expect(await statusOf(deleteId)).toBe('deleting');

    await startWorker();
    await expect.poll(() => statusOf(stopId), { timeout: 40_000, interval: 250 }).toBe('stopped');
    expect(await dockerRunning(stopId)).toBe(false);
    await expect.poll(() => statusOf(deleteId), { timeout: 40_000, interval: 250 }).toBe('gone');
    await expect(docker.getContainer(deleteId).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('Redis restarting under the running API and worker', () => {
  it('answers 503 while Redis is away, then recovers by itself with every record kept', async () => {
    const id = await create(TEST_IMAGES.noPorts);
    const before = (await http().get('/v1/containers').auth('admin', 'pw')).body as { container_id: string }[];
    expect(before.map((c) => c.container_id)).toContain(id);

    await redis.down();
    // Bounded: a hang would fail here instead of answering.
    for (const request of [
      http().get('/v1/containers'),
      http().get(`/v1/containers/${id}`),
      http().post('/v1/containers').send({ image: TEST_IMAGES.noPorts }),
    ]) {
      const res = await request.auth('admin', 'pw').timeout(10_000);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ message: 'The state store (Redis) is unavailable', code: 'redis_unavailable' });
    }
    expect(api?.child.exitCode).toBeNull();
    expect(worker?.child.exitCode).toBeNull();
    const health = await http().get('/healthz').timeout(10_000);
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'unavailable', redis: 'down', worker: 'unknown' });
    expect(await healthcheck('api')).toBe(1);

    await redis.up();
    await expect.poll(async () => (await http().get('/v1/containers').auth('admin', 'pw')).status, { timeout: 20_000, interval: 250 }).toBe(200);
    const after = (await http().get('/v1/containers').auth('admin', 'pw')).body as { container_id: string }[];
    expect(after.map((c) => c.container_id).sort()).toEqual(before.map((c) => c.container_id).sort());
    // Nothing was created while Redis was away: no container without a record.
    const managed = await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${instance}`] } });
    expect(managed.map((c) => c.Id).sort()).toEqual(after.map((c) => c.container_id).sort());

    // The worker reconnected too: it carries out a stop.
    await http().patch(`/v1/containers/${id}`).auth('admin', 'pw').send({ status: 'stopped' });
    await expect.poll(() => statusOf(id), { timeout: 20_000, interval: 250 }).toBe('stopped');
  });
});

describe('the Docker engine going away', () => {
  it('answers 503 with a clear message while it is gone and reconciles what changed once it is back', async () => {
    const id = await create(TEST_IMAGES.noPorts);
    await proxy.down();

    const created = await http().post('/v1/containers').auth('admin', 'pw').send({ image: TEST_IMAGES.noPorts }).timeout(10_000);
    expect(created.status).toBe(503);
    expect(created.body).toEqual({ message: 'The Docker engine is unreachable', code: 'docker_unavailable' });
    expect((await http().get('/v1/images').auth('admin', 'pw').timeout(10_000)).status).toBe(503);
    // What is stored is still served.
    const listed = await http().get('/v1/containers').auth('admin', 'pw');
    expect(listed.status).toBe(200);
    expect((listed.body as { container_id: string }[]).map((c) => c.container_id)).toContain(id);

    // Meanwhile the container stops, and the server cannot see it happen.
    await docker.getContainer(id).stop({ t: 0 });
    expect(await statusOf(id)).toBe('running');

    await proxy.up();
    await expect.poll(() => statusOf(id), { timeout: 30_000, interval: 250 }).toBe('stopped');
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM to the worker lets the stop in hand finish, then it exits 0', async () => {
    const id = await create();
    await http().patch(`/v1/containers/${id}`).auth('admin', 'pw').send({ status: 'stopped' });
    await expect.poll(activeJobIds, { timeout: 10_000, interval: 50 }).toContain(jobIds.stop(id, 1));

    worker?.child.kill('SIGTERM');
    expect(await worker?.exited()).toBe(0);
    expect(await statusOf(id)).toBe('stopped');
    expect(await dockerRunning(id)).toBe(false);
    await startWorker();
  });

  it('SIGTERM to the API finishes the request in flight, then it exits 0', async () => {
    const managed = async () => (await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${instance}`] } })).map((c) => c.Id);
    const known = new Set(await managed());
    const pending = http()
      .post('/v1/containers')
      .auth('admin', 'pw')
      .send({ image: TEST_IMAGES.noPorts })
      .then((res) => res);
    // Docker has the container: the request is under way on the server.
    await expect.poll(async () => (await managed()).filter((c) => !known.has(c)).length, { timeout: 10_000, interval: 10 }).toBe(1);
    api?.child.kill('SIGTERM');

    const res = await pending;
    expect(res.status).toBe(201);
    expect(await api?.exited()).toBe(0);
    expect(await statusOf(res.body.container_id as string)).toBe('running');
    await startApi();
  });
});
