import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { firstBytes, keepsPassing } from '../support/net.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function create(harness: Harness, image: string = TEST_IMAGES.demo, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await harness.http
    .post('/v1/containers')
    .auth(...harness.auth)
    .send({ image, ...extra });
  expect(res.status).toBe(201);
  return res.body.container_id as string;
}

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

describe('what a caller may ask for', () => {
  it('refuses privileged mode, host mounts, host networking or any other option, and creates nothing', async () => {
    const before = await h.worker.runtime.listManaged();
    for (const extra of [{ privileged: 'true' }, { binds: '/:/host' }, { network_mode: 'host' }, { HostConfig: { Privileged: true } }]) {
      const res = await h.http
        .post('/v1/containers')
        .auth(...h.auth)
        .send({ image: TEST_IMAGES.noPorts, ...extra });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('option_not_allowed');
      expect(res.body.message).toContain(Object.keys(extra)[0]);
    }
    const viaQuery = await h.http
      .post('/v1/containers?privileged=1')
      .auth(...h.auth)
      .type('form')
      .send({ image: TEST_IMAGES.noPorts });
    expect(viaQuery.status).toBe(400);
    expect((await h.worker.runtime.listManaged()).length).toBe(before.length);
  });

  it("runs every container unprivileged, on the installation's own network, without host mounts, new privileges or an unbounded log", async () => {
    const info = await h.docker.getContainer(await create(h, TEST_IMAGES.noPorts)).inspect();
    const network = await h.docker.getNetwork('spin-docker').inspect();
    expect(info.HostConfig).toMatchObject({ Privileged: false, NetworkMode: network.Id, PidMode: '', IpcMode: expect.not.stringMatching(/^host$/) });
    expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
    expect(info.HostConfig.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
    expect(info.HostConfig.Binds ?? []).toEqual([]);
    expect(info.HostConfig.CapAdd ?? []).toEqual([]);
    expect(info.HostConfig.Devices ?? []).toEqual([]);
    expect(info.Mounts).toEqual([]);
  });
});
