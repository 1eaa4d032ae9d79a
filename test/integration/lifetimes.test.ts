import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { firstBytesOnce, holdOpen, keepsPassing } from '../support/net.js';
import { openEvents } from '../support/sse.js';

/**
 * Lifetimes and reasons: deadlines, extend, the clean-up of old stopped containers, quiet connections, and the
 * container object saying why it runs and why it stopped. Short settings: the idle pass every second.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface View {
  container_id: string;
  status: string;
  app_port: string;
  stop_at: string | null;
  delete_at: string | null;
  stop_reason: string | null;
  kept_by: string | null;
}

const PASSES = { SD_ACTIVITY_SAMPLE_INTERVAL: '1' };

async function create(harness: Harness, body: Record<string, unknown>) {
  const res = await harness.http
    .post('/v1/containers')
    .auth(...harness.auth)
    .send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as View;
}
const get = async (harness: Harness, id: string) => (await harness.http.get(`/v1/containers/${id}`).auth(...harness.auth)) as { status: number; body: View };
const patch = (harness: Harness, id: string, body: Record<string, unknown>) =>
  harness.http
    .patch(`/v1/containers/${id}`)
    .auth(...harness.auth)
    .send(body);

describe('deadlines', () => {
  it('stops a container at its stop_after, however busy, warning first, and says why', async () => {
    h = await startHarness({ ...PASSES, SD_EXPIRY_WARNING: '2' });
    const harness = h;
    const events = await openEvents(harness.port, harness.auth);
    const started = Date.now();
    const created = await create(harness, { image: TEST_IMAGES.httpd, stop_after: '4s', wake: false });
    expect(Date.parse(created.stop_at ?? '') - started).toBeGreaterThanOrEqual(3_500);
    expect(await firstBytesOnce(created.app_port, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP/);
    let socket: Socket | undefined;
    try {
      socket = await holdOpen(created.app_port);
      const expiring = await events.next((frame) => frame.event === 'container.expiring' && (frame.data ?? '').includes(created.container_id), 10_000);
      expect(JSON.parse(expiring.data ?? '{}')).toMatchObject({ deadline: 'stop', at: created.stop_at });
      const stopping = await events.next((frame) => frame.event === 'container.stopping' && (frame.data ?? '').includes(created.container_id), 10_000);
      expect(JSON.parse(stopping.data ?? '{}').reason).toBe('deadline');
      expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
      await expect
        .poll(async () => (await get(harness, created.container_id)).body, { timeout: 20_000 })
        .toMatchObject({ status: 'stopped', stop_reason: 'deadline' });
    } finally {
      socket?.destroy();
      events.close();
    }
  });

  it('extend moves the stop deadline and counts as use; past SD_MAX_LIFETIME it is refused, saying the ceiling', async () => {
    h = await startHarness({ ...PASSES, SD_MAX_LIFETIME: '60' });
    const harness = h;
    const over = await harness.http
      .post('/v1/containers')
      .auth(...harness.auth)
      .send({ image: TEST_IMAGES.noPorts, stop_after: '2m' });
    expect(over.status).toBe(400);
    expect(over.body).toMatchObject({ code: 'over_ceiling', message: expect.stringMatching(/ceiling of 1 min \(SD_MAX_LIFETIME\)/) });
    // Without stop_after, the ceiling is its deadline.
    const plain = await create(harness, { image: TEST_IMAGES.noPorts });
    expect(plain.stop_at).not.toBeNull();

    const created = await create(harness, { image: TEST_IMAGES.noPorts, stop_after: '20s' });
    const extended = await patch(harness, created.container_id, { extend: '10s' });
    expect(extended.status).toBe(200);
    const moved = Date.parse(extended.body.stop_at) - Date.parse(created.stop_at ?? '');
    expect(moved).toBeGreaterThanOrEqual(9_000);
    expect(moved).toBeLessThanOrEqual(11_000);
    expect(extended.body.kept_by).toMatch(/^extended until \d\d:\d\d UTC$/);
    const refused = await patch(harness, created.container_id, { extend: '5m' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'over_ceiling', message: expect.stringMatching(/ceiling of 1 min from now \(SD_MAX_LIFETIME\)/) });
    expect((await get(harness, created.container_id)).body.stop_at).toBe(extended.body.stop_at);
    expect((await patch(harness, created.container_id, { extend: 'soon' })).status).toBe(400);
  });

  it('deletes a container at its delete_after', async () => {
    h = await startHarness(PASSES);
    const harness = h;
    const created = await create(harness, { image: TEST_IMAGES.noPorts, delete_after: '3' });
    expect(created.delete_at).not.toBeNull();
    await expect.poll(async () => (await get(harness, created.container_id)).status, { timeout: 20_000, interval: 250 }).toBe(404);
    await expect(harness.docker.getContainer(created.container_id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('deletes a container stopped for SD_DELETE_STOPPED_AFTER through the delete job, and never one started again meanwhile', async () => {
    h = await startHarness({ ...PASSES, SD_DELETE_STOPPED_AFTER: '4' });
    const harness = h;
    const events = await openEvents(harness.port, harness.auth);
    const [old, revived] = [await create(harness, { image: TEST_IMAGES.noPorts }), await create(harness, { image: TEST_IMAGES.noPorts })];
    for (const c of [old, revived]) await patch(harness, c.container_id, { status: 'stopped' });
    for (const c of [old, revived]) await expect.poll(async () => (await get(harness, c.container_id)).body.status, { timeout: 20_000 }).toBe('stopped');
    expect((await patch(harness, revived.container_id, { status: 'running' })).body.status).toBe('running');
    try {
      const deleting = await events.next((frame) => frame.event === 'container.deleting' && (frame.data ?? '').includes(old.container_id), 15_000);
      expect(JSON.parse(deleting.data ?? '{}').reason).toMatch(/^stopped for \d+ s \(SD_DELETE_STOPPED_AFTER 4 s\)$/);
      await expect.poll(async () => (await get(harness, old.container_id)).status, { timeout: 20_000 }).toBe(404);
      expect((await get(harness, revived.container_id)).body.status).toBe('running');
    } finally {
      events.close();
    }
  });

  it('survive a restart of the server', async () => {
    h = await startHarness(PASSES);
    const created = await create(h, { image: TEST_IMAGES.noPorts, stop_after: '8s' });
    const instance = h.instance;
    const range = `${h.api.config.portRange.first}-${h.api.config.portRange.last}`;
    await h.stop();
    h = await startHarness({ ...PASSES, SD_INSTANCE: instance, SD_PORT_RANGE: range });
    const harness = h;
    expect((await get(harness, created.container_id)).body.stop_at).toBe(created.stop_at);
    await expect
      .poll(async () => (await get(harness, created.container_id)).body, { timeout: 20_000, interval: 250 })
      .toMatchObject({ status: 'stopped', stop_reason: 'deadline' });
  });
});

describe('why it runs, why it stopped', () => {
  it('kept_by names the port and the count of the connections that keep it, or the check-in; stop_reason what stopped it', async () => {
    h = await startHarness({ ...PASSES, SD_INITIAL_TIMEOUT_INTERVAL: '3', SD_TIMEOUT_INTERVAL: '2' });
    const harness = h;
    const web = await create(harness, { image: TEST_IMAGES.httpd, wake: false });
    expect(await firstBytesOnce(web.app_port, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP/);
    const sockets = [await holdOpen(web.app_port), await holdOpen(web.app_port)];
    try {
      await expect.poll(async () => (await get(harness, web.container_id)).body.kept_by, { timeout: 10_000 }).toBe('2 connections on 80/tcp');
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    // Nobody connected: it says when the idle check looks, and then that it stopped it and why.
    await expect
      .poll(async () => (await get(harness, web.container_id)).body.kept_by ?? '', { timeout: 10_000 })
      .toMatch(/^nothing: .*the idle check at \d\d:\d\d UTC/);
    await expect
      .poll(async () => (await get(harness, web.container_id)).body, { timeout: 20_000 })
      .toMatchObject({ status: 'stopped', stop_reason: expect.stringMatching(/^idle: no connection or check-in for \d+ s$/) });

    const quiet = await create(harness, { image: TEST_IMAGES.noPorts });
    const env = (await harness.docker.getContainer(quiet.container_id).inspect()).Config.Env ?? [];
    const token = env.find((e) => e.startsWith('SD_CHECKIN_TOKEN='))?.split('=')[1];
    expect((await harness.http.post('/v1/check-in').set('Authorization', `Bearer ${token}`).send({ active: '3' })).body.stop_at).toBeNull();
    expect((await get(harness, quiet.container_id)).body.kept_by).toMatch(/^check-in (just now|\d+ s ago) \(active=3\)$/);
    expect((await patch(harness, quiet.container_id, { status: 'stopped' })).body.stop_reason).toBe('requested');

    const killed = await create(harness, { image: TEST_IMAGES.noPorts, wake: false });
    await harness.docker.getContainer(killed.container_id).kill();
    await expect.poll(async () => (await get(harness, killed.container_id)).body.stop_reason, { timeout: 10_000 }).toBe('exited (code 137)');
  });

  it('a connection that carries no traffic stops counting after SD_QUIET_CONNECTION; one that moves bytes keeps its container up', async () => {
    h = await startHarness({ ...PASSES, SD_QUIET_CONNECTION: '3', SD_INITIAL_TIMEOUT_INTERVAL: '5', SD_TIMEOUT_INTERVAL: '3' });
    const harness = h;
    const [idle, busy] = [await create(harness, { image: TEST_IMAGES.echo, wake: false }), await create(harness, { image: TEST_IMAGES.echo, wake: false })];
    const open = async (port: string) => {
      for (;;) {
        const socket = connect(Number(port), '127.0.0.1');
        const echoed = await new Promise<boolean>((resolve) => {
          socket.once('data', () => resolve(true));
          socket.once('error', () => resolve(false));
          socket.once('close', () => resolve(false));
          socket.write('hello\n');
        });
        if (echoed) return socket;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    const [quietSocket, busySocket] = [await open(idle.app_port), await open(busy.app_port)];
    busySocket.on('data', () => undefined);
    const chatter = setInterval(() => busySocket.write('x'.repeat(2048)), 300);
    try {
      await expect.poll(async () => (await get(harness, idle.container_id)).body.kept_by ?? '', { timeout: 15_000 }).toMatch(/quiet connection/);
      await expect
        .poll(async () => (await get(harness, idle.container_id)).body, { timeout: 30_000 })
        .toMatchObject({ status: 'stopped', stop_reason: expect.stringMatching(/^idle: /) });
      await keepsPassing(3_000, async () => {
        expect((await get(harness, busy.container_id)).body).toMatchObject({
          status: 'running',
          kept_by: expect.stringMatching(/^1 connection on 7000\/tcp, last traffic/),
        });
      });
    } finally {
      clearInterval(chatter);
      quietSocket.destroy();
      busySocket.destroy();
    }
  });
});
