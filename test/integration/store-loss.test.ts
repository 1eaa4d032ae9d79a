import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTANCE_LABEL } from '../../src/adapters/docker/docker.runtime.js';
import { keyPrefix } from '../../src/adapters/redis/keys.js';
import { RedisPullStore } from '../../src/adapters/redis/pull.store.js';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { freePort } from '../support/net.js';
import { DockerProxy, PrivateRedis, kill, startProcess, type ServerProcess } from '../support/processes.js';
import { spawn } from 'node:child_process';

const run = promisify(execFile);

/**
 * Nothing is lost when Redis is: Docker is the truth of which containers exist, the store an index rebuilt from
 * the containers' labels. Every way of losing the store leaves each container as it was, with its files, and
 * its record comes back by itself within seconds, its old check-in token still good.
 */
let redis: PrivateRedis;
beforeAll(async () => {
  redis = await PrivateRedis.start();
});
afterAll(async () => {
  await redis?.destroy();
});

interface Subject {
  readonly id: string;
  readonly token: string;
  readonly status: 'running' | 'stopped';
}

async function createWithFile(h: Harness, image: string, status: 'running' | 'stopped'): Promise<Subject> {
  const res = await h.http
    .post('/v1/containers')
    .auth(...h.auth)
    .send({ image });
  expect(res.status).toBe(201);
  const id = res.body.container_id as string;
  const container = h.docker.getContainer(id);
  const exec = await container.exec({ Cmd: ['sh', '-c', 'echo rows-1-2-3 > /kept.txt'], AttachStdout: true });
  await exec.start({ Detach: false });
  await expect.poll(async () => (await exec.inspect()).ExitCode, { timeout: 5_000 }).toBe(0);
  const env = (await container.inspect()).Config.Env ?? [];
  const token = env.find((e) => e.startsWith('SD_CHECKIN_TOKEN='))?.slice('SD_CHECKIN_TOKEN='.length) ?? '';
  if (status === 'stopped') {
    await h.http
      .patch(`/v1/containers/${id}`)
      .auth(...h.auth)
      .send({ status: 'stopped' });
    await expect.poll(async () => (await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body.status, { timeout: 20_000 }).toBe('stopped');
  }
  return { id, token, status };
}

/** What must hold after each loss: the containers as they were, their records back, the tokens good. */
async function expectIntact(h: Harness, subjects: readonly Subject[], image: string): Promise<void> {
  for (const subject of subjects) {
    await expect
      .poll(async () => (await h.http.get(`/v1/containers/${subject.id}`).auth(...h.auth)).body, { timeout: 10_000, interval: 200 })
      .toMatchObject({ container_id: subject.id, image, status: subject.status });
    const container = h.docker.getContainer(subject.id);
    expect((await container.inspect()).State.Running).toBe(subject.status === 'running');
    // The file written inside is still there (a stopped container's file system is read through an archive).
    const archive = await container.getArchive({ path: '/kept.txt' });
    const chunks: Buffer[] = [];
    for await (const chunk of archive) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString('latin1')).toContain('rows-1-2-3');
    if (subject.status === 'running') {
      const checkIn = await h.http.post('/v1/check-in').set('Authorization', `Bearer ${subject.token}`).send({ 'active-connections': '2' });
      expect(checkIn.status).toBe(200);
    }
  }
  const list = (await h.http.get('/v1/containers').auth(...h.auth)).body as { container_id: string }[];
  for (const subject of subjects) expect(list.filter((c) => c.container_id === subject.id)).toHaveLength(1);
}

describe('losing the store removes nothing, and every record comes back by itself', () => {
  it('FLUSHALL, a restart on an emptied Redis, one record deleted by hand, a fresh Redis: each time every container is adopted', async () => {
    const instance = `test-loss-${randomBytes(3).toString('hex')}`;
    const image = TEST_IMAGES.httpd;
    let h = await startHarness({ REDIS_URL: redis.url, SD_INSTANCE: instance, SD_RECONCILE_INTERVAL: '3600' });
    const client = new Redis(redis.url);
    const other = await PrivateRedis.start();
    try {
      const subjects = [await createWithFile(h, image, 'running'), await createWithFile(h, image, 'stopped')];

      // 1. FLUSHALL under the running server.
      await client.flushall();
      await expectIntact(h, subjects, image);

      // 2. The server stopped, Redis emptied, the server started again.
      await h.stop();
      await client.flushall();
      h = await startHarness({ REDIS_URL: redis.url, SD_INSTANCE: instance, SD_RECONCILE_INTERVAL: '3600' });
      await expectIntact(h, subjects, image);

      // 3. One record's hash deleted by hand.
      await client.del(`${keyPrefix(instance)}c:${subjects[0]?.id}`);
      await expectIntact(h, subjects, image);

      // 4. A fresh Redis (another volume) under the same SD_INSTANCE.
      await h.stop();
      h = await startHarness({ REDIS_URL: other.url, SD_INSTANCE: instance, SD_RECONCILE_INTERVAL: '3600' });
      await expectIntact(h, subjects, image);
    } finally {
      client.disconnect();
      await h.close();
      await other.destroy();
    }
  });

  it('a pull whose job was never queued fails after the stall timeout, and the same image can be pulled anew', async () => {
    const h = await startHarness({ REDIS_URL: redis.url, SD_PULL_STALL_TIMEOUT: '2' });
    const client = new Redis(redis.url);
    try {
      const reference = '127.0.0.1:9/never/queued:1';
      // What an API killed between storing the pull and queueing it leaves behind: a pull nobody carries out.
      const { pull } = await new RedisPullStore(client, keyPrefix(h.instance)).startOrJoin(reference, randomBytes(8).toString('hex'), Date.now());
      expect((await h.http.get(`/v1/images/pulls/${pull.id}`).auth(...h.auth)).body.status).toBe('pulling');
      await expect
        .poll(async () => (await h.http.get(`/v1/images/pulls/${pull.id}`).auth(...h.auth)).body, { timeout: 10_000, interval: 250 })
        .toMatchObject({ status: 'failed', error: expect.stringContaining('never carried out') });
      const again = await h.http
        .post('/v1/images')
        .auth(...h.auth)
        .send({ image: reference });
      expect(again.status).toBe(202);
      expect(again.body.pull_id).not.toBe(pull.id);
    } finally {
      client.disconnect();
      await h.close();
    }
  });
});

describe("a create killed between Docker's create and its record", () => {
  let proxy: DockerProxy;
  const procs: ServerProcess[] = [];
  beforeAll(async () => {
    if (!existsSync('dist/api/main.js')) throw new Error('run `npm run build` first (npm test does)');
    proxy = new DockerProxy();
    await proxy.up();
  });
  afterAll(async () => {
    for (const proc of procs) await kill(proc);
    await proxy?.destroy();
  });

  it('leaves no container once its mark has expired, and removes nothing else', async () => {
    const instance = `test-kill-${randomBytes(3).toString('hex')}`;
    const port = await freePort();
    // The engine answers within 2 s or not at all, so a create's mark lasts 3 × 2 s.
    const env = {
      REDIS_URL: redis.url,
      SD_INSTANCE: instance,
      SD_PASSWORD: 'pw',
      SD_PORT: String(port),
      SD_HOST: '127.0.0.1',
      SD_DOCKER_TIMEOUT: '2',
      SD_ORPHAN_GRACE: '1',
      SD_RECONCILE_INTERVAL: '1',
      SD_WORKER_METRICS_PORT: '0',
    };
    const worker = startProcess('worker', env);
    procs.push(worker);
    await worker.waitFor('worker started');
    const api = startProcess('api', { ...env, DOCKER_HOST: proxy.dockerHost });
    procs.push(api);
    await api.waitFor('API listening');
    const auth = `Basic ${Buffer.from('admin:pw').toString('base64')}`;
    const post = (image: string) =>
      fetch(`http://127.0.0.1:${port}/v1/containers`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify({ image }),
      });

    const finished = (await (await post(TEST_IMAGES.noPorts)).json()) as { container_id: string };
    // A container of this installation that no create of this store began (another installation's, say).
    const stray = (await run('docker', ['run', '-d', '--label', `${INSTANCE_LABEL}=${instance}`, TEST_IMAGES.noPorts])).stdout.trim();

    // The next create gets as far as Docker's create; its start never comes back, and the API is killed there.
    proxy.hold = /^(POST \S+\/containers\/[0-9a-f]+\/start|DELETE \S+\/containers\/)/;
    void post(TEST_IMAGES.noPorts).catch(() => undefined);
    const labelled = async () =>
      (await run('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=${INSTANCE_LABEL}=${instance}`])).stdout.trim().split('\n').filter(Boolean);
    await expect.poll(async () => (await labelled()).length, { timeout: 10_000, interval: 100 }).toBe(3);
    api.child.kill('SIGKILL');
    await api.exited();
    const half = (await labelled()).find((id) => id !== finished.container_id && id !== stray) as string;
    expect(half).toBeDefined();

    // Its mark expires (6 s) and a full pass removes it; the finished one and the stray one stay.
    await expect.poll(async () => (await labelled()).includes(half), { timeout: 20_000, interval: 250 }).toBe(false);
    expect((await labelled()).sort()).toEqual([finished.container_id, stray].sort());
    expect(worker.output()).toContain('removed the container of a create that never finished');
    await run('docker', ['rm', '-f', finished.container_id, stray]);
  });
});

describe('SD_DATA_DIR', () => {
  it("defaults to the project's own data/: `node dist/cli/start.js` from two working directories uses the same data", async () => {
    // A copy of the built project, so that its data/ is a folder of the test's own.
    const project = mkdtempSync(join(tmpdir(), 'sd-project-'));
    cpSync('dist', join(project, 'dist'), { recursive: true });
    cpSync('package.json', join(project, 'package.json'));
    symlinkSync(resolve('node_modules'), join(project, 'node_modules'));
    const redisPort = await freePort();
    const instance = `test-data-${randomBytes(3).toString('hex')}`;
    const startFrom = async (cwd: string) => {
      mkdirSync(cwd, { recursive: true });
      const child = spawn(process.execPath, [join(project, 'dist/cli/start.js')], {
        cwd,
        env: {
          PATH: process.env.PATH,
          SD_INSTANCE: instance,
          SD_EMBEDDED_REDIS_PORT: String(redisPort),
          SD_PORT: String(await freePort()),
          SD_HOST: '127.0.0.1',
          SD_WORKER_METRICS_PORT: '0',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      await expect.poll(() => output, { timeout: 30_000, interval: 100 }).toContain('worker started');
      const stop = async () => {
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGTERM');
        await exited;
      };
      return { output: () => output, stop };
    };
    try {
      const first = await startFrom(join(project, 'elsewhere', 'a'));
      expect(first.output()).toContain(join(project, 'data', 'redis'));
      const client = new Redis(`redis://127.0.0.1:${redisPort}`);
      await client.set(`${keyPrefix(instance)}probe`, 'kept');
      await client.quit();
      await first.stop();

      const second = await startFrom(join(tmpdir(), `sd-other-${randomBytes(3).toString('hex')}`));
      expect(second.output()).toContain(join(project, 'data', 'redis'));
      const again = new Redis(`redis://127.0.0.1:${redisPort}`);
      expect(await again.get(`${keyPrefix(instance)}probe`)).toBe('kept');
      await again.quit();
      await second.stop();
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
