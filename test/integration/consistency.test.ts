import { execFile } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { presentContainer } from '../../src/api/presenters/container.presenter.js';
import { loadConfig } from '../../src/config/env.js';
import { createContainerJobs } from '../../src/domain/containers/jobs.js';
import { createContainerRequests } from '../../src/domain/containers/requests.js';
import type { ContainerRuntime } from '../../src/domain/ports.js';
import { buildDeps } from '../../src/bootstrap/deps.js';
import { createLogger } from '../../src/bootstrap/logger.js';
import { create, record } from '../support/containers.js';
import { PASSWORD, startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { firstBytes, keepsPassing } from '../support/net.js';
import { PrivateRedis } from '../support/processes.js';

/**
 * Docker is the truth, and the records stay consistent with it: changes made behind the API's back, a storm
 * of concurrent requests, the corners of stops and starts, and work a crash left unfinished.
 */
const run = promisify(execFile);
const docker = new Docker();

const objectOf = async (harness: Harness, id: string) => {
  const res = await harness.http.get(`/v1/containers/${id}`).auth(...harness.auth);
  return res.status === 404 ? null : (res.body as { status: string; app_port: string; ssh_port: string; asleep: boolean });
};

/** Every managed container in Docker and every record, side by side, once no job is in flight. */
async function bothSides(harness: Harness) {
  const [records, containers] = [await harness.worker.store.list(), await harness.worker.runtime.listManaged()];
  return {
    records: records.map((r) => `${r.id} ${r.status}`).sort(),
    containers: containers.map((c) => `${c.id} ${c.running ? 'running' : 'stopped'}`).sort(),
  };
}

describe("Docker stays the truth: changes made behind the API's back", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('follows docker stop, start, kill and rm -f within seconds, without any audit request', async () => {
    // Wake off: while a container with wake on sleeps, the worker holds its ports, and a `docker start` behind
    // the server's back cannot have them (it is started through the API, or by connecting to it).
    const id = await create(h, TEST_IMAGES.demo, { wake: false });
    const container = h.docker.getContainer(id);

    await container.stop({ t: 1 });
    await expect.poll(async () => (await objectOf(h, id))?.status, { timeout: 10_000, interval: 100 }).toBe('stopped');
    expect(await objectOf(h, id)).toMatchObject({ asleep: false, app_port: '' });

    await container.start();
    await expect.poll(async () => (await objectOf(h, id))?.app_port, { timeout: 10_000, interval: 100 }).not.toBe('');
    const started = await objectOf(h, id);
    expect(started?.status).toBe('running');
    // The published port answers as soon as the banner service inside has started.
    await expect.poll(() => firstBytes(started?.ssh_port ?? '').catch(() => ''), { timeout: 15_000, interval: 250 }).toMatch(/^SSH-2\.0-/);

    await container.kill();
    await expect.poll(async () => (await objectOf(h, id))?.status, { timeout: 10_000, interval: 100 }).toBe('stopped');

    await container.remove({ force: true });
    await expect.poll(() => objectOf(h, id), { timeout: 10_000, interval: 100 }).toBeNull();
  });

  it('adopts a labelled container that has no record, however old, and never removes it (no create of ours left it)', async () => {
    const short = await startHarness({ SD_ORPHAN_GRACE: '1', SD_DOCKER_TIMEOUT: '2', SD_RECONCILE_INTERVAL: '1' });
    try {
      const kept = await create(short, TEST_IMAGES.noPorts);
      const stray = await short.docker.createContainer({ Image: TEST_IMAGES.noPorts, Labels: { 'io.spin-docker.instance': short.instance } });
      await stray.start();
      await expect.poll(async () => (await objectOf(short, stray.id))?.status, { timeout: 15_000, interval: 250 }).toBe('running');
      // Well past the grace and through several full passes: still there, still running.
      await keepsPassing(7_000, async () => {
        expect((await stray.inspect()).State.Running).toBe(true);
      });
      const list = (await short.http.get('/v1/containers').auth(...short.auth)).body as { container_id: string; image: string }[];
      expect(list.filter((c) => c.container_id === stray.id)).toHaveLength(1);
      expect(list.find((c) => c.container_id === stray.id)?.image).toBe(TEST_IMAGES.noPorts);
      expect((await objectOf(short, kept))?.status).toBe('running');
    } finally {
      await short.close();
    }
  });
});

describe('a storm of concurrent creates, stops, starts and deletes', () => {
  it('ends with exactly one record per managed container and matching states', async () => {
    // The storm is about consistency, not deadlines: on a slow machine (a nested engine) 50 creates at once can
    // keep the engine busy past the 30 s default, which would answer 503 by design.
    const storm = await startHarness({ SD_STOP_TIMEOUT: '1', SD_DOCKER_TIMEOUT: '180' });
    try {
      const patch = (id: string, status: string) =>
        storm.http
          .patch(`/v1/containers/${id}`)
          .auth(...storm.auth)
          .send({ status })
          .then((r) => r.status);
      const remove = (id: string) =>
        storm.http
          .delete(`/v1/containers/${id}`)
          .auth(...storm.auth)
          .then((r) => r.status);
      // A fixed pattern, so that a failure can be replayed: each container gets a different mix of requests.
      const mixes = [
        (id: string) => [patch(id, 'stopped'), patch(id, 'running')],
        (id: string) => [remove(id), patch(id, 'stopped')],
        (id: string) => [patch(id, 'stopped'), remove(id), patch(id, 'running')],
        (id: string) => [patch(id, 'running'), patch(id, 'stopped'), patch(id, 'stopped')],
        (id: string) => [remove(id), remove(id)],
        () => [],
      ];
      const statuses: number[] = [];
      const creates = Array.from({ length: 50 }, async (_, i) => {
        const res = await storm.http
          .post('/v1/containers')
          .auth(...storm.auth)
          .send({ image: TEST_IMAGES.noPorts });
        statuses.push(res.status);
        const mix = mixes[i % mixes.length];
        if (res.status === 201 && mix !== undefined) statuses.push(...(await Promise.all(mix(res.body.container_id as string))));
      });
      await Promise.all(creates);

      expect(statuses.filter((s) => s >= 500)).toEqual([]);
      expect(statuses.filter((s) => s === 201)).toHaveLength(50);
      // The only refusals: a change while deleting or stopping (409), or after the delete finished (404).
      expect(statuses.filter((s) => s >= 400 && s !== 409 && s !== 404)).toEqual([]);

      await expect
        .poll(async () => (await storm.worker.store.list()).filter((r) => r.status === 'stopping' || r.status === 'deleting').length, {
          timeout: 60_000,
          interval: 250,
        })
        .toBe(0);
      const { records, containers } = await bothSides(storm);
      expect(records).toEqual(containers);
      // Every container whose mix holds a DELETE is gone, every other one is still there.
      const deleted = Array.from({ length: 50 }, (_, i) => i % mixes.length).filter((m) => [1, 2, 4].includes(m)).length;
      expect(records).toHaveLength(50 - deleted);
    } finally {
      await storm.close();
    }
  });
});

describe('consistency corners', () => {
  let h: Harness;
  beforeAll(async () => {
    // No worker: the tests below play the worker's part themselves, step by step.
    h = await startHarness({}, { worker: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  const patch = (id: string, status: string) =>
    h.http
      .patch(`/v1/containers/${id}`)
      .auth(...h.auth)
      .send({ status });
  const running = async (id: string) => (await docker.getContainer(id).inspect()).State.Running;

  /** The use cases on the harness's store and queue, but with `runtime` as the engine. */
  function useCasesOn(runtime: ContainerRuntime) {
    const deps = { ...h.worker, runtime };
    return { ...createContainerRequests(deps), ...createContainerJobs(deps) };
  }

  it('a stop job of an earlier start never writes over a later one (stopping, stopped by an event, started, stopping again)', async () => {
    const id = await create(h, TEST_IMAGES.noPorts);
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
    const id = await create(h, TEST_IMAGES.exits);
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

/**
 * The API writes `stopping` / `deleting` and then queues the job; a crash between the two, or a queue write
 * lost with Redis, must not leave a record stuck. The worker's resume pass re-queues what is unfinished.
 */
describe('resuming unfinished work', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function create(): Promise<string> {
    const res = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .type('form')
      .send({ image: TEST_IMAGES.noPorts });
    expect(res.status).toBe(201);
    return res.body.container_id as string;
  }

  it('finishes a stop and a delete whose jobs were never queued', async () => {
    const stopId = await create();
    const deleteId = await create();
    // What a crashed API leaves behind: the new status, no job.
    await h.api.store.transition(stopId, { from: ['running'] }, { status: 'stopping', nextCheckAt: null });
    await h.api.store.transition(deleteId, {}, { status: 'deleting', nextCheckAt: null });

    const counts = await h.worker.consistency.resumeUnfinished();
    expect(counts).toMatchObject({ stops: 1, deletes: 1 });

    await expect.poll(async () => (await h.api.store.get(stopId))?.status, { timeout: 20_000 }).toBe('stopped');
    expect((await h.docker.getContainer(stopId).inspect()).State.Running).toBe(false);
    await expect.poll(() => h.api.store.get(deleteId), { timeout: 20_000 }).toBeNull();
    await expect(h.docker.getContainer(deleteId).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});
