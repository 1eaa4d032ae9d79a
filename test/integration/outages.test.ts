import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTANCE_LABEL } from '../../src/adapters/docker/docker.runtime.js';
import { RedisContainerStore } from '../../src/adapters/redis/container.store.js';
import { keyPrefix } from '../../src/adapters/redis/keys.js';
import { record } from '../support/containers.js';
import { testRedisUrl } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { freePort } from '../support/net.js';
import { processPair } from '../support/process-pair.js';
import { HungEngine, kill, startProcess } from '../support/processes.js';

/**
 * Redis or the Docker engine going away, or an engine that hangs: the API answers 503 rather than hanging or
 * failing, nothing is lost, and the API and the worker recover by themselves once it is back.
 */
describe('the compiled API and worker as separate processes', () => {
  const instance = `test-outage-${process.pid}`;
  const pair = processPair(instance);
  const { docker, http, create, statusOf, healthcheck } = pair;
  beforeAll(() => pair.start());
  afterAll(() => pair.close());

  describe('Redis restarting under the running API and worker', () => {
    it('answers 503 while Redis is away, then recovers by itself with every record kept', async () => {
      const id = await create(TEST_IMAGES.noPorts);
      const before = (await http().get('/v1/containers').auth('admin', 'pw')).body as { container_id: string }[];
      expect(before.map((c) => c.container_id)).toContain(id);

      await pair.redis.down();
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
      expect(pair.api?.child.exitCode).toBeNull();
      expect(pair.worker?.child.exitCode).toBeNull();
      const health = await http().get('/healthz').timeout(10_000);
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ status: 'unavailable', redis: 'down', worker: 'unknown' });
      expect(await healthcheck('api')).toBe(1);

      await pair.redis.up();
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
      await pair.proxy.down();

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

      await pair.proxy.up();
      await expect.poll(() => statusOf(id), { timeout: 30_000, interval: 250 }).toBe('stopped');
    });
  });
});

describe('a Docker engine that accepts connections and never answers', () => {
  beforeAll(() => {
    if (!existsSync('dist/api/main.js')) throw new Error('run `npm run build` first (npm test does)');
  });
  const hung = new HungEngine();
  const instance = `test-hung-${process.pid}`;
  let port = 0;
  const env = () => ({
    SD_HOST: '127.0.0.1',
    SD_PORT: String(port),
    SD_PASSWORD: 'pw',
    SD_INSTANCE: instance,
    SD_DOCKER_TIMEOUT: '1',
    REDIS_URL: testRedisUrl(),
    DOCKER_HOST: hung.dockerHost,
  });
  let redis: Redis;

  beforeAll(async () => {
    await hung.up();
    port = await freePort();
    redis = new Redis(testRedisUrl());
  });
  afterAll(async () => {
    const keys = await redis.keys(`spin-docker:${instance}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await hung.destroy();
  });

  it('turns every engine call into a 503 docker_unavailable within the deadline, and /healthz leaks no socket', async () => {
    const api = startProcess('api', env());
    try {
      await api.waitFor('API listening');
      const http = () => supertest(`http://127.0.0.1:${port}`);
      // A stopped record to start, as if the engine had hung after it was made.
      const store = new RedisContainerStore(redis, keyPrefix(instance));
      const id = 'a'.repeat(64);
      await store.insert({ ...record(id), status: 'stopped' });

      for (const request of [
        http().post('/v1/containers').send({ image: TEST_IMAGES.noPorts }),
        http().get('/v1/images'),
        http().patch(`/v1/containers/${id}`).send({ status: 'running' }),
      ]) {
        // Bounded: a hang fails here instead of answering.
        const res = await request.auth('admin', 'pw').timeout(20_000);
        expect(res.status).toBe(503);
        expect(res.body.code).toBe('docker_unavailable');
        expect(res.body.message).toMatch(/did not answer within 1 s/);
      }
      // What is stored is still served, and the record is as it was.
      expect((await http().get(`/v1/containers/${id}`).auth('admin', 'pw')).body.status).toBe('stopped');

      for (let i = 0; i < 5; i += 1) {
        const health = await http().get('/healthz').timeout(10_000);
        expect(health.body).toMatchObject({ status: 'ok', docker: 'down' });
      }
      // Every request given up on was dropped: the engine holds no connection of ours.
      await expect.poll(() => hung.open, { timeout: 5_000, interval: 100 }).toBe(0);
    } finally {
      await kill(api);
    }
  });

  it('a worker told to stop while it still waits for the engine at start-up exits at once, and cleanly', async () => {
    const worker = startProcess('worker', { ...env(), SD_DOCKER_TIMEOUT: '30' });
    // Start-up asks the engine for its bridge, which hangs.
    await expect.poll(() => hung.open, { timeout: 10_000, interval: 50 }).toBeGreaterThan(0);
    worker.child.kill('SIGTERM');
    // Its own handler ran (exit 0), rather than the default one (killed by the signal).
    expect(await worker.exited()).toBe(0);
    expect(worker.child.signalCode).toBeNull();
    expect(worker.output()).toContain('shutting down');
  });
});
