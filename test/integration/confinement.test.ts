import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create } from '../support/containers.js';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { firstBytesOnce } from '../support/net.js';

/**
 * What a caller may not ask for and a container may not do: host rights, options the API does not offer, a
 * check-in token in a URL, resources beyond its limits, ports beyond SD_PUBLISH_ADDRESS.
 */
const run = promisify(execFile);
const docker = new Docker();

describe('what a caller may ask for', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

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

describe('what a caller or a container must not be able to do', () => {
  let h: Harness;
  beforeAll(async () => {
    // No worker: nothing here needs one.
    h = await startHarness({}, { worker: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a check-in token in the query string is refused (it would land in access logs) and counts for nothing', async () => {
    const res = await h.http.post('/v1/check-in?token=abc').type('form').send({ 'active-connections': '1' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('token_in_query');
  });

  it('runs every container with a pids limit, a memory cap, a CPU share and without NET_RAW; a fork bomb stays inside', async () => {
    const id = await create(h, TEST_IMAGES.noPorts);
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
