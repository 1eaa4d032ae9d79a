import { noLifetime } from '../../src/domain/containers/record.js';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisContainerStore } from '../../src/adapters/redis/container.store.js';
import { buildApp } from '../../src/api/app.js';
import { presentContainer } from '../../src/api/presenters/container.presenter.js';
import { loadConfig } from '../../src/config/env.js';
import { createContainerJobs } from '../../src/domain/containers/jobs.js';
import { createContainerRequests } from '../../src/domain/containers/requests.js';
import type { ContainerRecord } from '../../src/domain/containers/record.js';
import type { ContainerRuntime } from '../../src/domain/ports.js';
import { buildDeps } from '../../src/bootstrap/deps.js';
import { keyPrefix } from '../../src/adapters/redis/keys.js';
import { createLogger } from '../../src/bootstrap/logger.js';
import { PASSWORD, startHarness, testRedisUrl, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { firstBytesOnce, freePort } from '../support/net.js';
import { HungEngine, PrivateRedis, kill, startProcess } from '../support/processes.js';

/**
 * The edges: processes that must not lie or stop badly, consistency corners, and what a caller or a
 * container must not be able to do. Real processes, a real Redis, a real Docker engine (and one that hangs).
 */
const run = promisify(execFile);
const docker = new Docker();

let h: Harness;
beforeAll(async () => {
  if (!existsSync('dist/api/main.js')) throw new Error('run `npm run build` first (npm test does)');
  // No worker: the tests below play the worker's part themselves, step by step.
  h = await startHarness({}, { worker: false });
});
afterAll(async () => {
  await h?.close();
});

async function create(image: string = TEST_IMAGES.noPorts): Promise<{ id: string; body: Record<string, string> }> {
  const res = await h.http
    .post('/v1/containers')
    .auth(...h.auth)
    .send({ image });
  expect(res.status).toBe(201);
  return { id: res.body.container_id as string, body: res.body as Record<string, string> };
}

const patch = (id: string, status: string) =>
  h.http
    .patch(`/v1/containers/${id}`)
    .auth(...h.auth)
    .send({ status });
const running = async (id: string) => (await docker.getContainer(id).inspect()).State.Running;

describe('processes that must not lie or stop badly', () => {
  it('the API exits non-zero, naming the address, when its port is taken', async () => {
    const taken = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    try {
      const api = startProcess('api', { SD_HOST: '127.0.0.1', SD_PORT: String(port), SD_INSTANCE: `test-bind-${process.pid}`, REDIS_URL: testRedisUrl() });
      expect(await api.exited()).toBe(1);
      expect(api.output()).toContain(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
      expect(api.output()).not.toContain('API listening');
    } finally {
      taken.close();
    }
  });

  describe('a Docker engine that accepts connections and never answers', () => {
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
});

/** The container's pids cgroup on this host: cgroup v1 (cgroupfs driver) or v2 (cgroupfs or systemd driver). */
function pidsCgroup(id: string): string {
  const candidates = [`/sys/fs/cgroup/pids/docker/${id}`, `/sys/fs/cgroup/docker/${id}`, `/sys/fs/cgroup/system.slice/docker-${id}.scope`];
  const found = candidates.find((dir) => existsSync(join(dir, 'pids.current')));
  if (found === undefined) throw new Error(`no pids cgroup for ${id} among ${candidates.join(', ')}`);
  return found;
}

/** How many forks the pids limit has refused so far. */
function refusedForks(cgroup: string): number {
  return Number(/^max (\d+)/m.exec(readFileSync(join(cgroup, 'pids.events'), 'utf8'))?.[1] ?? 0);
}

/** The use cases on the harness's store and queue, but with `runtime` as the engine. */
function useCasesOn(runtime: ContainerRuntime) {
  const deps = { ...h.worker, runtime };
  return { ...createContainerRequests(deps), ...createContainerJobs(deps) };
}

/** A record with no container behind it, for tests that write the store directly. */
function record(id: string): ContainerRecord {
  return {
    id,
    name: `/forged-${id.slice(0, 6)}`,
    image: TEST_IMAGES.noPorts,
    status: 'running',
    active: 0,
    ports: {},
    ip: '',
    node: '',
    startCount: 1,
    wakeOnConnect: false,
    checkinAt: null,
    createdAt: Date.now(),
    nextCheckAt: null,
    strikes: 0,
    tokenHash: '',
    pid: 0,
    connections: null,
    observedAt: null,
    sshKeys: [],
    ...noLifetime,
  };
}

describe('consistency corners', () => {
  it('a stop job of an earlier start never writes over a later one (stopping, stopped by an event, started, stopping again)', async () => {
    const { id } = await create(TEST_IMAGES.noPorts);
    expect((await patch(id, 'stopped')).body.status).toBe('stopping');

    // The job of start 1 gets as far as Docker's stop, and is held there…
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const real = h.worker.runtime;
    const held: ContainerRuntime = Object.assign(Object.create(real) as ContainerRuntime, {
      stop: async (target: string, timeout: number) => {
        const outcome = await real.stop(target, timeout);
        await gate;
        return outcome;
      },
    });
    const slowWorker = useCasesOn(held);
    const oldJob = slowWorker.completeStop(id, 1);
    await expect.poll(() => running(id), { timeout: 10_000, interval: 50 }).toBe(false);

    // …while the event of that stop is followed, the container is started and a stop of start 2 is asked for.
    await h.worker.consistency.reconcileOne(id);
    expect((await h.worker.store.get(id))?.status).toBe('stopped');
    expect((await patch(id, 'running')).body).toMatchObject({ status: 'running' });
    expect((await patch(id, 'stopped')).body.status).toBe('stopping');
    expect(await running(id)).toBe(true);

    release();
    await oldJob;
    // The old job left start 2 alone; start 2's own job stops it.
    expect(await h.worker.store.get(id)).toMatchObject({ status: 'stopping', startCount: 2 });
    await h.worker.jobs.completeStop(id, 2);
    expect((await h.worker.store.get(id))?.status).toBe('stopped');
    expect(await running(id)).toBe(false);
  });

  it('PATCH running on a container whose command exits at once answers stopped, as create does', async () => {
    const { id } = await create(TEST_IMAGES.exits);
    await expect.poll(() => running(id), { timeout: 10_000, interval: 50 }).toBe(false);
    await h.worker.consistency.reconcileOne(id);
    expect((await h.worker.store.get(id))?.status).toBe('stopped');

    // The engine answers the start, and by the time it is asked what runs, the command has ended (as it does
    // at once; here made certain by waiting for it, so that the test does not depend on timing).
    const real = h.worker.runtime;
    const exitsFirst: ContainerRuntime = Object.assign(Object.create(real) as ContainerRuntime, {
      start: async (target: string) => {
        await real.start(target);
        await docker.getContainer(target).wait();
        return real.inspect(target);
      },
    });
    const answer = presentContainer(await useCasesOn(exitsFirst).changeStatus(id, 'running'));
    expect(answer).toMatchObject({ status: 'stopped', next_check_at: null, asleep: true });
    expect((await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body).toMatchObject({ status: 'stopped', ports: answer.ports });
  });

  it("a stored record that cannot be read is a 500 (logged), not the client's 400", async () => {
    const id = 'c'.repeat(64);
    await h.api.redis.hset(`${h.api.prefix}c:${id}`, { container_id: id, name: '/x', image: 'x', status: 'exploded', ports: '{' });
    try {
      const res = await h.http.get(`/v1/containers/${id}`).auth(...h.auth);
      expect(res.status).toBe(500);
      expect(res.body.code).toBe('corrupt_record');
    } finally {
      await h.api.redis.del(`${h.api.prefix}c:${id}`);
    }
  });

  it("never starts, stops or removes a container without this installation's label, whatever a record says", async () => {
    const { stdout } = await run('docker', ['run', '-d', TEST_IMAGES.noPorts]);
    const foreign = stdout.trim();
    try {
      await h.api.store.insert(record(foreign));
      const stop = await patch(foreign, 'stopped');
      expect(stop.body.status).toBe('stopping');
      await h.worker.jobs.completeStop(foreign, 1);
      expect(await running(foreign)).toBe(true);
      // Not ours: the record is forgotten, the container left as it is.
      expect((await h.http.get(`/v1/containers/${foreign}`).auth(...h.auth)).status).toBe(404);

      await h.api.store.insert(record(foreign));
      expect((await h.http.delete(`/v1/containers/${foreign}`).auth(...h.auth)).status).toBe(204);
      await h.worker.jobs.completeDelete(foreign);
      expect(await running(foreign)).toBe(true);

      const { stdout: again } = await run('docker', ['run', '-d', TEST_IMAGES.noPorts]);
      const stoppedForeign = again.trim();
      await run('docker', ['stop', '-t', '0', stoppedForeign]);
      await h.api.store.insert({ ...record(stoppedForeign), status: 'stopped' });
      expect((await patch(stoppedForeign, 'running')).status).toBe(404);
      expect(await running(stoppedForeign)).toBe(false);
      await run('docker', ['rm', '-f', stoppedForeign]);
    } finally {
      await run('docker', ['rm', '-f', foreign]).catch(() => undefined);
    }
  });

  it('GET /v1/containers never serves a list from before Redis lost writes (restarted from an older state)', async () => {
    const redis = await PrivateRedis.start();
    const backup = `${redis.dir}-backup`;
    const config = loadConfig({
      SD_PASSWORD: PASSWORD,
      SD_INSTANCE: `test-rollback-${process.pid}`,
      SD_ENVIRONMENT: 'test',
      SD_LOG_LEVEL: 'silent',
      REDIS_URL: redis.url,
    });
    const deps = await buildDeps(config, createLogger('silent', 'test'), { role: 'api', checkinUrl: 'http://127.0.0.1:1/v1/check-in' });
    const http = supertest(buildApp(deps));
    const listed = async () => ((await http.get('/v1/containers').auth('admin', PASSWORD)).body as { container_id: string }[]).map((c) => c.container_id);
    const [a, b] = ['a', 'b'].map((c) => c.repeat(64)) as [string, string];
    try {
      await deps.store.insert(record(a));
      expect(await listed()).toEqual([a]);
      // A backup taken now…
      await redis.down();
      cpSync(redis.dir, backup, { recursive: true });
      await redis.up();
      // …then a is deleted and b created, and the list says so.
      await expect.poll(() => deps.redis.ping().catch(() => 'down'), { timeout: 10_000 }).toBe('PONG');
      await deps.store.remove(a);
      await deps.store.insert(record(b));
      await deps.store.transition(b, {}, { active: 1 });
      expect(await listed()).toEqual([b]);
      // Redis comes back from the backup: fewer writes than the list had seen.
      await redis.down();
      rmSync(redis.dir, { recursive: true, force: true });
      cpSync(backup, redis.dir, { recursive: true });
      await redis.up();
      await expect.poll(() => deps.redis.ping().catch(() => 'down'), { timeout: 10_000 }).toBe('PONG');
      expect(await listed()).toEqual([a]);
    } finally {
      await deps.close();
      await redis.destroy();
      rmSync(backup, { recursive: true, force: true });
    }
  });
});

describe('what a caller or a container must not be able to do', () => {
  it('a check-in token in the query string is refused (it would land in access logs) and counts for nothing', async () => {
    const res = await h.http.post('/v1/check-in?token=abc').type('form').send({ 'active-connections': '1' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('token_in_query');
  });

  it('runs every container with a pids limit, a memory cap, a CPU share and without NET_RAW; a fork bomb stays inside', async () => {
    const { id } = await create(TEST_IMAGES.noPorts);
    const info = await docker.getContainer(id).inspect();
    expect(info.HostConfig).toMatchObject({ PidsLimit: 512, Memory: 2 * 1024 ** 3, NanoCpus: 1e9 });
    expect(info.HostConfig.CapDrop).toContain('NET_RAW');
    // Without NET_RAW no raw packet can be sent, so no ARP reply can be forged to take another's address.
    const arping = await run('docker', ['exec', id, 'arping', '-c', '1', '-w', '1', '-I', 'eth0', '172.17.0.1']).then(
      () => 'sent',
      (error: { stderr?: string }) => error.stderr ?? '',
    );
    expect(arping).toMatch(/not permitted/i);

    // A fork bomb (each process forks two and waits): it runs into the pids limit, and the host and the server go on.
    await run('docker', ['exec', '-d', id, 'sh', '-c', 'b() { b & b & wait; }; b']);
    const cgroup = pidsCgroup(id);
    await expect.poll(() => refusedForks(cgroup), { timeout: 20_000, interval: 200 }).toBeGreaterThan(0);
    expect(Number(readFileSync(join(cgroup, 'pids.current'), 'utf8'))).toBeLessThanOrEqual(512);
    expect((await run('sh', ['-c', 'echo host-alive'])).stdout.trim()).toBe('host-alive');
    expect((await h.http.get('/v1/containers').auth(...h.auth)).status).toBe(200);
    await docker.getContainer(id).remove({ force: true });
  });

  it('publishes the ports on SD_PUBLISH_ADDRESS only', async () => {
    const loopback = await startHarness(
      { SD_PUBLISH_ADDRESS: '127.0.0.1', SD_CONTAINER_PIDS_LIMIT: '0', SD_CONTAINER_MEMORY: '0', SD_CONTAINER_CPUS: '0' },
      { worker: false },
    );
    try {
      const res = await loopback.http
        .post('/v1/containers')
        .auth(...loopback.auth)
        .send({ image: TEST_IMAGES.demo });
      expect(res.status).toBe(201);
      const info = await docker.getContainer(res.body.container_id as string).inspect();
      const bindings = Object.values(info.NetworkSettings.Ports).flat();
      expect(bindings.map((b) => b?.HostIp)).toEqual(['127.0.0.1', '127.0.0.1']);
      expect(res.body.app_port).toMatch(/^\d+$/);
      expect(await firstBytesOnce(res.body.app_port as string, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.[01] 200/);
      // 0 means no limit.
      expect(info.HostConfig).toMatchObject({ PidsLimit: null, Memory: 0, NanoCpus: 0 });
    } finally {
      await loopback.close();
    }
  });
});
