import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/domain/containers/labels.js';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { firstBytesOnce, holdOpen, keepsPassing, listening } from '../support/net.js';

/**
 * SD_ENGINE=swarm on a single-node swarm of this machine's engine (`docker swarm init` before, `leave` after,
 * unless the engine was in a swarm already): each container is a service of one task, with the same API.
 * The three-node swarm is test/deploy/swarm.test.ts.
 */
const run = promisify(execFile);
const docker = async (...args: string[]) => (await run('docker', args, { timeout: 60_000 })).stdout.trim();

let h: Harness;
let initialised = false;
/** This engine's name: the node's host name in the swarm. */
let node = '';
const hostname = () => node;
beforeAll(async () => {
  node = await docker('info', '--format', '{{.Name}}');
  if ((await docker('info', '--format', '{{.Swarm.LocalNodeState}}')) !== 'active') {
    await docker('swarm', 'init', '--advertise-addr', '127.0.0.1');
    initialised = true;
  }
  h = await startHarness({
    SD_ENGINE: 'swarm',
    SD_NETWORK: `sd-swarm-test`,
    SD_ACTIVITY_SAMPLE_INTERVAL: '1',
    SD_INITIAL_TIMEOUT_INTERVAL: '6',
    SD_TIMEOUT_INTERVAL: '3',
    SD_WAKE_TIMEOUT: '20',
  });
}, 120_000);

afterAll(async () => {
  const services = await docker('service', 'ls', '-q', '--filter', `label=${LABELS.instance}=${h?.instance}`).catch(() => '');
  if (services !== '') await docker('service', 'rm', ...services.split('\n')).catch(() => undefined);
  // The harness removes the tasks' containers (they carry the instance label); then their volumes can go.
  await h?.close();
  const volumes = await docker('volume', 'ls', '-q', '--filter', `label=${LABELS.instance}=${h?.instance}`).catch(() => '');
  if (volumes !== '') await docker('volume', 'rm', ...volumes.split('\n')).catch(() => undefined);
  if (initialised) await docker('swarm', 'leave', '--force').catch(() => undefined);
  await docker('network', 'rm', 'sd-swarm-test').catch(() => undefined);
}, 120_000);

interface View {
  container_id: string;
  name: string;
  status: string;
  node: string | null;
  ports: Record<string, string>;
  app_port: string;
  connections: string;
  stop_reason: string | null;
  asleep: boolean;
}

async function create(image: string, extra: Record<string, unknown> = {}): Promise<View> {
  const res = await h.http
    .post('/v1/containers')
    .auth(...h.auth)
    .send({ image, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as View;
}

const get = async (id: string) => (await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body as View;
const patch = (id: string, status: string) =>
  h.http
    .patch(`/v1/containers/${id}`)
    .auth(...h.auth)
    .send({ status });
/** A whole answer over HTTP from this host (curl). */
const fetchText = async (port: string, path: string) => (await run('curl', ['-sS', '-m', '20', `http://127.0.0.1:${port}${path}`])).stdout;
const replicas = async (id: string) => Number(await docker('service', 'inspect', id, '--format', '{{.Spec.Mode.Replicated.Replicas}}'));
/** The running container of a service's task on this node. */
const taskContainer = async (id: string) => docker('ps', '-q', '--filter', `label=com.docker.swarm.service.id=${id}`, '--filter', 'status=running');

describe('SD_ENGINE=swarm (one node)', () => {
  it('makes each container a service of one task, answering on its published port, with the node it runs on', async () => {
    const created = await create(TEST_IMAGES.demo);
    expect(created.status).toBe('running');
    expect(created.container_id).toMatch(/^[0-9a-z]{25}$/);
    expect(created.node).toBe(hostname());
    expect(await replicas(created.container_id)).toBe(1);
    expect(await docker('service', 'inspect', created.container_id, '--format', '{{index .Spec.Labels "io.spin-docker.instance"}}')).toBe(h.instance);
    expect(await firstBytesOnce(created.app_port, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.[01] 200/);
    // The same object as the single engine's, and the list has it.
    const list = (await h.http.get('/v1/containers').auth(...h.auth)).body as View[];
    expect(list.map((c) => c.container_id)).toContain(created.container_id);
    // A unique prefix names it, as a prefix of a container's id does.
    expect((await get(created.container_id.slice(0, 6))).container_id).toBe(created.container_id);
    const logs = await h.http.get(`/v1/containers/${created.container_id}/logs?tail=all`).auth(...h.auth);
    expect(logs.status).toBe(200);
  });

  it('stops by scaling to 0 and starts by scaling to 1, on the same ports and the same node, keeping its volumes', async () => {
    const created = await create(TEST_IMAGES.volume);
    const id = created.container_id;
    await docker('exec', await taskContainer(id), 'sh', '-c', 'echo kept-across-a-stop >/data/note.txt');
    expect(await fetchText(created.app_port, '/note.txt')).toBe('kept-across-a-stop\n');

    expect((await patch(id, 'stopped')).status).toBe(200);
    await expect.poll(async () => (await get(id)).status, { timeout: 30_000, interval: 200 }).toBe('stopped');
    expect(await replicas(id)).toBe(0);
    expect(await taskContainer(id)).toBe('');
    const stopped = await get(id);
    expect(stopped.stop_reason).toBe('requested');
    expect(stopped.node).toBe(hostname());
    expect(await docker('service', 'inspect', id, '--format', '{{json .Spec.TaskTemplate.Placement.Constraints}}')).toContain(`node.hostname==${hostname()}`);
    // Asleep: the worker listens on its port (seen by trying to bind it, without connecting, which would wake
    // it). The start's new task must get the port back from it (the three-node test's task failed on it).
    await expect.poll(() => listening(Number(created.app_port)), { timeout: 20_000, interval: 200 }).toBe(true);

    expect((await patch(id, 'running')).status).toBe(200);
    const started = await get(id);
    expect(started.status).toBe('running');
    expect(started.ports).toEqual(created.ports);
    expect(started.node).toBe(hostname());
    // A new task, a new container: what the image keeps in its volume is there still.
    await expect.poll(() => fetchText(started.app_port, '/note.txt').catch(() => ''), { timeout: 10_000 }).toBe('kept-across-a-stop\n');
  });

  it('starts again a container whose task ended by itself (a new task of the same service), and gives its stop SD_STOP_TIMEOUT', async () => {
    const created = await create(TEST_IMAGES.httpd);
    const id = created.container_id;
    // Kept up whatever its activity (the idle stop here is seconds away): what ends it is the kill below.
    expect(
      (
        await h.http
          .patch(`/v1/containers/${id}`)
          .auth(...h.auth)
          .send({ extend: '1h' })
      ).status,
    ).toBe(200);
    // The task's stop waits SD_STOP_TIMEOUT (3 s here) from its first run on, not Docker's default 10 s.
    expect(await docker('service', 'inspect', id, '--format', '{{json .Spec.TaskTemplate.ContainerSpec.StopGracePeriod}}')).toBe('3000000000');
    await docker('kill', await taskContainer(id));
    await expect.poll(async () => (await get(id)).status, { timeout: 20_000, interval: 200 }).toBe('stopped');
    expect((await get(id)).stop_reason).toBe('exited (code 137)');
    // One replica and no task (restart policy none): a start makes the swarm run a new one.
    expect(await replicas(id)).toBe(1);
    const started = await patch(id, 'running');
    expect(started.body, JSON.stringify(started.body)).toMatchObject({ status: 'running', ports: created.ports });
    expect(await firstBytesOnce(created.app_port, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.[01] 404/);
  });

  it('deletes the service, its task and the volumes made for it', async () => {
    const created = await create(TEST_IMAGES.volume);
    const id = created.container_id;
    const volumes = await docker('volume', 'ls', '-q', '--filter', `label=io.spin-docker.service=${created.name}`);
    expect(volumes).not.toBe('');
    expect((await h.http.delete(`/v1/containers/${id}`).auth(...h.auth)).status).toBe(204);
    await expect.poll(async () => (await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).status, { timeout: 30_000, interval: 200 }).toBe(404);
    expect(await docker('service', 'ls', '-q', '--filter', `id=${id}`)).toBe('');
    await expect.poll(() => docker('volume', 'ls', '-q', '--filter', `label=io.spin-docker.service=${created.name}`), { timeout: 30_000 }).toBe('');
  });

  it("keeps a task up while a client holds a connection (its node's /proc, observed), and stops it once the client leaves", async () => {
    const created = await create(TEST_IMAGES.httpd);
    const id = created.container_id;
    expect(await firstBytesOnce(created.app_port, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP/);
    const socket = await holdOpen(created.app_port);
    try {
      await expect.poll(async () => (await get(id)).connections, { timeout: 15_000, interval: 200 }).toBe('1');
      await keepsPassing(8_000, async () => expect((await get(id)).status).toBe('running'));
    } finally {
      socket.destroy();
    }
    await expect.poll(async () => (await get(id)).status, { timeout: 30_000, interval: 250 }).toBe('stopped');
    expect((await get(id)).stop_reason).toMatch(/^idle/);
    expect(await replicas(id)).toBe(0);
  });

  it('wakes a sleeping service when a client connects to its port, on the same port', async () => {
    const created = await create(TEST_IMAGES.httpd);
    const id = created.container_id;
    expect((await patch(id, 'stopped')).status).toBe(200);
    await expect.poll(async () => (await get(id)).asleep, { timeout: 30_000, interval: 200 }).toBe(true);
    // Listened on by the worker once it has seen the stop: the first connection is held and answered by the task.
    await expect.poll(async () => (await taskContainer(id)) === '', { timeout: 5_000 }).toBe(true);
    await expect.poll(() => listening(Number(created.app_port)), { timeout: 10_000, interval: 100 }).toBe(true);
    const answer = await firstBytesOnce(created.app_port, 'GET / HTTP/1.0\r\n\r\n', 60_000);
    // busybox httpd's own answer (it serves /bin, which has no index): the task answered the held connection.
    expect(answer).toMatch(/^HTTP\/1\.[01] 404 Not Found/);
    expect((await get(id)).status).toBe('running');
    expect(await replicas(id)).toBe(1);
  });

  it('rebuilds a lost record from the service (Docker is the truth; Redis an index)', async () => {
    const created = await create(TEST_IMAGES.demo);
    const id = created.container_id;
    await h.worker.store.remove(id);
    expect((await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).status).toBe(404);
    const audit = await h.http.post('/v1/containers/audit').auth(...h.auth);
    expect(audit.status).toBe(200);
    const adopted = await get(id);
    expect(adopted).toMatchObject({ container_id: id, status: 'running', ports: created.ports, node: hostname() });
    expect(await replicas(id)).toBe(1);
  });
});
