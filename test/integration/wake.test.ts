import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, type SseClient } from '../support/sse.js';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { keepsPassing, listening } from '../support/net.js';

/**
 * Sleep, don't break: a stopped container keeps its ports, and a connection to any of them wakes it and is
 * answered by it, with no proxy in the way afterwards.
 */
let h: Harness;
let events: SseClient;
beforeAll(async () => {
  h = await startHarness({ SD_WAKE_TIMEOUT: '4' });
  events = await openEvents(h.port, h.auth);
});
afterAll(async () => {
  events?.close();
  await h?.close();
});

interface View {
  container_id: string;
  status: string;
  ports: Record<string, string>;
  app_port: string;
  ssh_port: string;
  asleep: boolean;
  wake_on_connect: boolean;
}

async function create(image: string, extra: Record<string, unknown> = {}): Promise<View> {
  const res = await h.http
    .post('/v1/containers')
    .auth(...h.auth)
    .send({ image, ...extra });
  expect(res.status).toBe(201);
  return res.body as View;
}

const get = async (id: string) => (await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body as View;

async function putToSleep(id: string): Promise<View> {
  await h.http
    .patch(`/v1/containers/${id}`)
    .auth(...h.auth)
    .send({ status: 'stopped' });
  await expect.poll(async () => (await get(id)).status, { timeout: 20_000, interval: 100 }).toBe('stopped');
  // Its ports are listened on once the worker has seen the stop.
  const view = await get(id);
  await expect.poll(() => listening(Number(view.app_port)), { timeout: 10_000, interval: 100 }).toBe(true);
  return view;
}

/** Connects, sends `request`, and gathers what comes back until the other side closes (or `untilText` is seen). */
function exchange(port: number, request: string, untilText?: RegExp): Promise<{ answer: string; refused: boolean }> {
  return new Promise((resolve) => {
    let answer = '';
    const socket: Socket = connect(port, '127.0.0.1');
    socket.setTimeout(30_000, () => socket.destroy());
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ answer, refused: error.code === 'ECONNREFUSED' }));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
      if (untilText?.test(answer)) socket.end();
    });
    socket.once('close', () => resolve({ answer, refused: false }));
    socket.write(request);
  });
}

describe('stable ports', () => {
  it('gives each exposed port a host port of SD_PORT_RANGE, kept through stop and start', async () => {
    const created = await create(TEST_IMAGES.demo);
    const { first, last } = h.api.config.portRange;
    for (const port of Object.values(created.ports)) expect(Number(port)).toSatisfy((p: number) => p >= first && p <= last);
    const labels = (await h.docker.getContainer(created.container_id).inspect()).Config.Labels;
    expect(labels['io.spin-docker.ports']).toBe(`22/tcp=${created.ports['22/tcp']},80/tcp=${created.ports['80/tcp']}`);
    const asleep = await putToSleep(created.container_id);
    expect(asleep).toMatchObject({ asleep: true, ports: created.ports, app_port: created.app_port, ssh_port: created.ssh_port });
    const started = await h.http
      .patch(`/v1/containers/${created.container_id}`)
      .auth(...h.auth)
      .send({ status: 'running' });
    expect(started.body).toMatchObject({ status: 'running', ports: created.ports });
  });

  it('moves a port that something else took while the container was stopped to a free one, keeping its files, with an event', async () => {
    const created = await create(TEST_IMAGES.httpd, { wake: false });
    const exec = await h.docker.getContainer(created.container_id).exec({ Cmd: ['sh', '-c', 'echo kept > /bin/kept.txt'] });
    await exec.start({ Detach: true });
    await expect.poll(async () => (await exec.inspect()).ExitCode, { timeout: 5_000 }).toBe(0);
    await h.http
      .patch(`/v1/containers/${created.container_id}`)
      .auth(...h.auth)
      .send({ status: 'stopped' });
    await expect.poll(async () => (await get(created.container_id)).status, { timeout: 20_000 }).toBe('stopped');
    // Something else listens on its app port meanwhile.
    const squatter = createServer().listen(Number(created.app_port), '0.0.0.0');
    await once(squatter, 'listening');
    try {
      const started = await h.http
        .patch(`/v1/containers/${created.container_id}`)
        .auth(...h.auth)
        .send({ status: 'running' });
      expect(started.status).toBe(200);
      const moved = started.body as View;
      expect(moved.status).toBe('running');
      expect(moved.app_port).not.toBe(created.app_port);
      expect(moved.ssh_port).toBe(created.ssh_port);
      expect(moved.container_id).not.toBe(created.container_id);
      const event = await events.next((frame) => frame.event === 'container.port_moved' && (frame.data ?? '').includes(created.container_id));
      expect(JSON.parse(event.data ?? '{}')).toMatchObject({
        container_port: '80/tcp',
        from: Number(created.app_port),
        to: Number(moved.app_port),
        former_id: created.container_id,
      });
      // Its former id still finds it; its files came along; its new port is the container's.
      expect((await get(created.container_id)).container_id).toBe(moved.container_id);
      // (Docker's proxy accepts before httpd inside listens: an early connection is closed unanswered, so ask until it answers.)
      await expect
        .poll(async () => (await exchange(Number(moved.app_port), 'GET /kept.txt HTTP/1.0\r\n\r\n')).answer, { timeout: 10_000, interval: 100 })
        .toMatch(/kept/);
    } finally {
      squatter.close();
    }
  });

  it('is a 503 no_ports when the range is full, and nothing is created', async () => {
    const small = await startHarness({ SD_PORT_RANGE: '29990-29992' });
    try {
      const first = await small.http
        .post('/v1/containers')
        .auth(...small.auth)
        .send({ image: TEST_IMAGES.demo });
      expect(first.status).toBe(201);
      const full = await small.http
        .post('/v1/containers')
        .auth(...small.auth)
        .send({ image: TEST_IMAGES.demo });
      expect(full.status).toBe(503);
      expect(full.body.code).toBe('no_ports');
      expect(full.body.message).toMatch(/SD_PORT_RANGE \(29990-29992\)/);
      const labelled = await small.docker.listContainers({ all: true, filters: { label: [`io.spin-docker.instance=${small.instance}`] } });
      expect(labelled).toHaveLength(1);
    } finally {
      await small.close();
    }
  });
});

describe('wake on connect', () => {
  it('an HTTP request to a sleeping container wakes it and is answered by it, on the same ports; then no proxy is in the way', async () => {
    const created = await create(TEST_IMAGES.httpd);
    const asleep = await putToSleep(created.container_id);
    const { answer, refused } = await exchange(Number(asleep.app_port), 'GET / HTTP/1.0\r\n\r\n');
    expect(refused).toBe(false);
    expect(answer).toMatch(/^HTTP\/1\.[01] \d{3} /);
    const awake = await get(created.container_id);
    expect(awake).toMatchObject({ status: 'running', asleep: false, ports: created.ports });
    const waking = await events.next((frame) => frame.event === 'container.waking' && (frame.data ?? '').includes(created.container_id));
    expect(JSON.parse(waking.data ?? '{}')).toMatchObject({ port: Number(asleep.app_port), peer: expect.stringMatching(/127\.0\.0\.1/) });
    const woken = await events.next((frame) => frame.event === 'container.woken' && (frame.data ?? '').includes(created.container_id));
    expect(JSON.parse(woken.data ?? '{}').seconds).toBeGreaterThan(0);
    // Awake: the port is Docker's (its proxy's), not the worker's: a new connection is answered by the container.
    expect((await exchange(Number(asleep.app_port), 'GET / HTTP/1.0\r\n\r\n')).answer).toMatch(/^HTTP\/1\.[01] \d{3} /);
    const metrics = await h.worker.metrics.registry.getSingleMetricAsString('spin_docker_wake_seconds');
    expect(metrics).toMatch(/spin_docker_wake_seconds_count\{[^}]*\} [1-9]/);
  });

  it("keeps a sleeping container's ports handed back while someone else starts it, though its record still says stopped, and listens again once it is stopped anew", async () => {
    const created = await create(TEST_IMAGES.httpd);
    const asleep = await putToSleep(created.container_id);
    const record = await h.api.store.get(created.container_id);
    if (record === null) throw new Error('no record');
    // What a start by a PATCH or another node's wake says first: the worker lets go of the ports.
    await h.api.events.publish({ type: 'container.waking', record, detail: { peer: 'request' } });
    await expect.poll(() => listening(Number(asleep.app_port)), { timeout: 5_000, interval: 100 }).toBe(false);
    // A start on a swarm takes seconds: the worker's passes (every 2 s) do not take the ports back meanwhile
    // (they did, and the start's new task found its port taken: the three-node test).
    await keepsPassing(5_000, async () => expect(await listening(Number(asleep.app_port))).toBe(false));
    await h.api.events.publish({ type: 'container.stopped', record });
    await expect.poll(() => listening(Number(asleep.app_port)), { timeout: 5_000, interval: 100 }).toBe(true);
  });

  it('a raw TCP exchange sent before the container listens is delivered once it does, both ways, with half-close', async () => {
    const created = await create(TEST_IMAGES.echo);
    const asleep = await putToSleep(created.container_id);
    // The echo server takes a second to listen after the start: the bytes wait in the held connection.
    const { answer } = await new Promise<{ answer: string }>((resolve) => {
      let text = '';
      const socket = connect({ port: Number(asleep.app_port), host: '127.0.0.1', allowHalfOpen: true });
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.once('close', () => resolve({ answer: text }));
      socket.write('hello through the wake\n');
      // Half-close: nothing more from us; the echo answers what it got, then ends its side.
      socket.end();
    });
    expect(answer).toBe('hello through the wake\n');
  });

  it('50 connections at once: one start, 50 answered, none refused', async () => {
    const created = await create(TEST_IMAGES.httpd);
    const asleep = await putToSleep(created.container_id);
    const starts: string[] = [];
    const abort = new AbortController();
    const stream = await h.docker.getEvents({ filters: { container: [created.container_id], event: ['start'] }, abortSignal: abort.signal } as never);
    (stream as unknown as NodeJS.ReadableStream).on('data', (chunk: Buffer) => starts.push(chunk.toString()));
    const results = await Promise.all(Array.from({ length: 50 }, () => exchange(Number(asleep.app_port), 'GET / HTTP/1.0\r\n\r\n')));
    abort.abort();
    expect(results.filter((r) => r.refused)).toHaveLength(0);
    expect(results.filter((r) => /^HTTP\/1\.[01] \d{3} /.test(r.answer))).toHaveLength(50);
    expect(starts).toHaveLength(1);
  });

  it('with wake off, a stopped container is stopped: its ports refuse, and show blank', async () => {
    const created = await create(TEST_IMAGES.httpd, { wake: false });
    expect(created.wake_on_connect).toBe(false);
    await h.http
      .patch(`/v1/containers/${created.container_id}`)
      .auth(...h.auth)
      .send({ status: 'stopped' });
    await expect.poll(async () => (await get(created.container_id)).status, { timeout: 20_000 }).toBe('stopped');
    expect(await get(created.container_id)).toMatchObject({ asleep: false, app_port: '', ports: {} });
    expect((await exchange(Number(created.app_port), 'GET / HTTP/1.0\r\n\r\n')).refused).toBe(true);
    expect((await get(created.container_id)).status).toBe('stopped');
  });

  it('closes a held connection whose container never listens, once SD_WAKE_TIMEOUT has passed, and says why', async () => {
    const created = await create(TEST_IMAGES.stubborn);
    const asleep = await putToSleep(created.container_id);
    const started = Date.now();
    const { answer } = await exchange(Number(asleep.app_port), 'anyone?\n');
    expect(answer).toBe('');
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_500);
    const failed = await events.next((frame) => frame.event === 'container.wake_failed' && (frame.data ?? '').includes(created.container_id));
    expect(JSON.parse(failed.data ?? '{}').reason).toMatch(/did not accept within 4 s/);
  });

  it('closes the held connections of a container that fails to start, and says why', async () => {
    const created = await create(TEST_IMAGES.exits);
    await expect.poll(async () => (await get(created.container_id)).status, { timeout: 20_000 }).toBe('stopped');
    await expect.poll(() => listening(Number(created.app_port)), { timeout: 10_000, interval: 100 }).toBe(true);
    const { answer } = await exchange(Number(created.app_port), 'GET / HTTP/1.0\r\n\r\n');
    expect(answer).toBe('');
    const failed = await events.next((frame) => frame.event === 'container.wake_failed' && (frame.data ?? '').includes(created.container_id));
    expect(JSON.parse(failed.data ?? '{}').reason).toMatch(/could not start: .*ended/);
  });

  it('listens on a port that something else held when the container fell asleep, once it is free, and wakes on it', async () => {
    const created = await create(TEST_IMAGES.demo);
    expect(created.ssh_port).not.toBe('');
    await putToSleep(created.container_id);
    // Something else holds its app port while the worker is away: when it comes back only the SSH port can be had.
    await h.stop();
    const squatter = createServer().listen(Number(created.app_port), '0.0.0.0');
    await once(squatter, 'listening');
    h = await startHarness({ SD_INSTANCE: h.instance, SD_PORT_RANGE: `${h.api.config.portRange.first}-${h.api.config.portRange.last}`, SD_WAKE_TIMEOUT: '4' });
    events.close();
    events = await openEvents(h.port, h.auth);
    await expect.poll(() => listening(Number(created.ssh_port)), { timeout: 10_000, interval: 100 }).toBe(true);
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    // Tried again at the next pass over the sleepers (every 2 s): the app port is the container's again.
    await expect.poll(() => listening(Number(created.app_port)), { timeout: 10_000, interval: 500 }).toBe(true);
    expect((await exchange(Number(created.app_port), 'GET / HTTP/1.0\r\n\r\n')).answer).toMatch(/^HTTP\/1\.[01] 200/);
    expect((await get(created.container_id)).status).toBe('running');
  });

  it("stops listening on a deleted container's ports at once", async () => {
    const created = await create(TEST_IMAGES.httpd);
    const asleep = await putToSleep(created.container_id);
    expect((await h.http.delete(`/v1/containers/${created.container_id}`).auth(...h.auth)).status).toBe(204);
    await expect.poll(() => listening(Number(asleep.app_port)), { timeout: 2_000, interval: 50 }).toBe(false);
  });

  it("listens again on every sleeping container's ports within seconds after the worker restarts", async () => {
    const created = await create(TEST_IMAGES.httpd);
    const asleep = await putToSleep(created.container_id);
    await h.stop();
    expect(await listening(Number(asleep.app_port))).toBe(false);
    h = await startHarness({ SD_INSTANCE: h.instance, SD_PORT_RANGE: `${h.api.config.portRange.first}-${h.api.config.portRange.last}`, SD_WAKE_TIMEOUT: '4' });
    events.close();
    events = await openEvents(h.port, h.auth);
    await expect.poll(() => listening(Number(asleep.app_port)), { timeout: 5_000, interval: 100 }).toBe(true);
    expect((await exchange(Number(asleep.app_port), 'GET / HTTP/1.0\r\n\r\n')).answer).toMatch(/^HTTP\/1\.[01] \d{3} /);
  });

  it('holds at most SD_WAKE_MAX_HELD connections per container and closes the others at once; more than SD_MAX_PORTS ports is a 400 that creates nothing', async () => {
    await h.stop();
    h = await startHarness({
      SD_INSTANCE: h.instance,
      SD_PORT_RANGE: `${h.api.config.portRange.first}-${h.api.config.portRange.last}`,
      SD_WAKE_TIMEOUT: '4',
      SD_WAKE_MAX_HELD: '2',
      SD_MAX_PORTS: '1',
    });
    events.close();
    events = await openEvents(h.port, h.auth);
    const before = new Set((await h.worker.runtime.listManaged()).map((c) => c.id));
    const refused = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: TEST_IMAGES.demo });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'too_many_ports', message: expect.stringMatching(/exposes 2 ports.*at most 1.*SD_MAX_PORTS/) });
    expect((await h.worker.runtime.listManaged()).filter((c) => !before.has(c.id))).toEqual([]);

    // An image that never listens: every held connection waits for the whole timeout, but those past the bound.
    const created = await create(TEST_IMAGES.stubborn);
    const asleep = await putToSleep(created.container_id);
    const closedAt: number[] = [];
    const started = Date.now();
    // Four at once (connections that come together wake it together): the first two are held, the others not.
    const closed = [0, 1, 2, 3].map(async (i) => {
      const { answer, refused } = await exchange(Number(asleep.app_port), 'anyone?\n');
      closedAt[i] = Date.now() - started;
      return `${answer}${refused ? 'refused' : ''}`;
    });
    expect(await Promise.all(closed)).toEqual(['', '', '', '']);
    // The two past the bound are closed on arrival; the two held ones at the timeout (4 s).
    const [, early, late] = [...closedAt].sort((a, b) => a - b) as [number, number, number, number];
    expect(early).toBeLessThan(2_000);
    expect(late).toBeGreaterThanOrEqual(3_500);
    const failed = await events.next((frame) => frame.event === 'container.wake_failed' && (frame.data ?? '').includes(created.container_id));
    expect(JSON.parse(failed.data ?? '{}').reason).toMatch(/did not accept within 4 s.*2 held connection/);
  });
});
