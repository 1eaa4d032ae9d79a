import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { jobIds } from '../../src/adapters/bullmq/jobs.js';
import { INSTANCE_LABEL } from '../../src/adapters/docker/docker.runtime.js';
import { keyPrefix } from '../../src/adapters/redis/keys.js';
import { testRedisUrl } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { freePort } from '../support/net.js';
import { processPair } from '../support/process-pair.js';
import { kill, startProcess } from '../support/processes.js';
import { sample } from '../support/prom.js';

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/**
 * `npm start` as a user runs it: the compiled API and worker as two processes, plus a private
 * redis-server with append-only persistence, all stopped together by SIGTERM.
 */
describe('npm start (dist/cli/start.js)', () => {
  const instance = `test-start-${process.pid}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'sd-data-'));
  const docker = new Docker();
  let port = 0;
  let workerMetricsPort = 0;
  let child: ChildProcess;
  let output = '';

  /** `detached`: the process leads a process group of its own, as a shell's foreground job does. */
  const start = async (extra: Record<string, string> = {}) => {
    child = spawn(process.execPath, ['dist/cli/start.js'], {
      detached: true,
      env: {
        PATH: process.env.PATH,
        SD_PORT: String(port),
        SD_HOST: '127.0.0.1',
        SD_PASSWORD: 'pw',
        SD_INSTANCE: instance,
        SD_DATA_DIR: dataDir,
        SD_EMBEDDED_REDIS_PORT: String(await freePort()),
        SD_WORKER_METRICS_PORT: String(workerMetricsPort),
        ...extra,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await vi.waitFor(
      () => {
        expect(output).toContain('worker started');
        expect(output).toContain('API listening');
      },
      { timeout: 20_000, interval: 100 },
    );
  };

  beforeAll(async () => {
    if (!existsSync('dist/cli/start.js')) throw new Error('run `npm run build` first (npm test does)');
    port = await freePort();
    workerMetricsPort = await freePort();
    await start();
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited(child);
    }
    const mine = await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${instance}`] } });
    await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the API, runs the worker, persists to disk and keeps records across a restart', async () => {
    const http = () => supertest(`http://127.0.0.1:${port}`);
    const created = await http().post('/v1/containers').auth('admin', 'pw').type('form').send({ image: TEST_IMAGES.noPorts });
    expect(created.status).toBe(201);
    const id = created.body.container_id as string;

    // The worker process does the stop.
    expect((await http().patch(`/v1/containers/${id}`).auth('admin', 'pw').type('form').send({ status: 'stopped' })).body.status).toBe('stopping');
    await expect.poll(async () => (await http().get(`/v1/containers/${id}`).auth('admin', 'pw')).body.status, { timeout: 20_000 }).toBe('stopped');

    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    expect(readdirSync(join(dataDir, 'redis')).join(' ')).toMatch(/appendonly/);

    output = '';
    await start();
    const again = await http().get(`/v1/containers/${id}`).auth('admin', 'pw');
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('stopped');
  });

  it("serves metrics: the API's at /metrics behind Basic auth, the worker's on its own loopback port", async () => {
    const http = () => supertest(`http://127.0.0.1:${port}`);
    const created = await http().post('/v1/containers').auth('admin', 'pw').send({ image: TEST_IMAGES.noPorts });
    const id = created.body.container_id as string;
    await http()
      .patch(`/v1/containers/${id.slice(0, 8)}`)
      .auth('admin', 'pw')
      .send({ status: 'stopped' });
    await expect.poll(async () => (await http().get(`/v1/containers/${id}`).auth('admin', 'pw')).body.status, { timeout: 20_000 }).toBe('stopped');

    expect((await http().get('/metrics')).status).toBe(401);
    const api = await http().get('/metrics').auth('admin', 'pw');
    expect(api.status).toBe(200);
    expect(api.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sample(api.text, 'spin_docker_containers', { status: 'stopped', process: 'api' })).toBeGreaterThanOrEqual(1);
    expect(
      sample(api.text, 'spin_docker_http_request_duration_seconds_count', { method: 'PATCH', route: '/v1/containers/:id', status: '200' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(api.text, 'spin_docker_engine_call_duration_seconds_count', { operation: 'create the container', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(api.text).not.toContain(id.slice(0, 12));

    const worker = await fetch(`http://127.0.0.1:${workerMetricsPort}/metrics`);
    expect(worker.status).toBe(200);
    const text = await worker.text();
    expect(sample(text, 'spin_docker_jobs_total', { queue: 'containers', outcome: 'completed', process: 'worker' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'spin_docker_engine_call_duration_seconds_count', { operation: 'stop the container', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'spin_docker_activity_pass_seconds_count', { process: 'worker' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'spin_docker_process_resident_memory_bytes', { process: 'worker' })).toBeGreaterThan(1_000_000);
  });

  it('Ctrl-C (SIGINT to the whole process group) stops the API, then the worker once its job is done, then Redis', async () => {
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    output = '';
    await start({ SD_STOP_TIMEOUT: '3' });
    const http = () => supertest(`http://127.0.0.1:${port}`);
    // The stubborn image ignores SIGTERM: its stop keeps the worker busy for the whole stop timeout.
    const created = await http().post('/v1/containers').auth('admin', 'pw').send({ image: TEST_IMAGES.stubborn });
    const id = created.body.container_id as string;
    expect((await http().patch(`/v1/containers/${id}`).auth('admin', 'pw').send({ status: 'stopped' })).body.status).toBe('stopping');
    await new Promise((resolve) => setTimeout(resolve, 500));

    // What a terminal does on Ctrl-C: the signal goes to every process of the foreground group.
    process.kill(-(child.pid as number), 'SIGINT');
    expect(await exited(child)).toBe(0);
    const stopped = [...output.matchAll(/"process":"(\w+)","exitCode":(\w+)[^\n]*"msg":"process stopped"/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(stopped).toEqual(['api 0', 'worker 0', 'redis 0']);

    // The stop the worker had in hand was finished and written before Redis went down.
    output = '';
    await start();
    expect((await http().get(`/v1/containers/${id}`).auth('admin', 'pw')).body.status).toBe('stopped');
    expect((await docker.getContainer(id).inspect()).State.Running).toBe(false);
  });
});

describe('the compiled API and worker as separate processes', () => {
  const instance = `test-crash-${process.pid}`;
  const pair = processPair(instance);
  const { docker, http, create, statusOf, dockerRunning, activeJobIds, healthcheck, startApi, startWorker } = pair;
  beforeAll(() => pair.start());
  afterAll(() => pair.close());

  describe('health checks', () => {
    it('say healthy for the running API and worker, and unhealthy for a worker that is gone', async () => {
      expect(await healthcheck('api')).toBe(0);
      expect(await healthcheck('worker')).toBe(0);
      await kill(pair.worker);
      // SIGKILL leaves the heartbeat to expire; a graceful stop removes it at once.
      await pair.client.del(`${keyPrefix(instance)}worker:heartbeat`);
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

      await kill(pair.worker);
      expect(await statusOf(stopId)).toBe('stopping');
      expect(await statusOf(deleteId)).toBe('deleting');

      await startWorker();
      await expect.poll(() => statusOf(stopId), { timeout: 40_000, interval: 250 }).toBe('stopped');
      expect(await dockerRunning(stopId)).toBe(false);
      await expect.poll(() => statusOf(deleteId), { timeout: 40_000, interval: 250 }).toBe('gone');
      await expect(docker.getContainer(deleteId).inspect()).rejects.toMatchObject({ statusCode: 404 });
    });
  });

  describe('graceful shutdown', () => {
    it('SIGTERM to the worker lets the stop in hand finish, then it exits 0', async () => {
      const id = await create();
      await http().patch(`/v1/containers/${id}`).auth('admin', 'pw').send({ status: 'stopped' });
      await expect.poll(activeJobIds, { timeout: 10_000, interval: 50 }).toContain(jobIds.stop(id, 1));

      pair.worker?.child.kill('SIGTERM');
      expect(await pair.worker?.exited()).toBe(0);
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
      pair.api?.child.kill('SIGTERM');

      const res = await pending;
      expect(res.status).toBe(201);
      expect(await pair.api?.exited()).toBe(0);
      expect(await statusOf(res.body.container_id as string)).toBe('running');
      await startApi();
    });
  });
});

describe('processes that must not lie or stop badly', () => {
  beforeAll(() => {
    if (!existsSync('dist/api/main.js')) throw new Error('run `npm run build` first (npm test does)');
  });

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
});
