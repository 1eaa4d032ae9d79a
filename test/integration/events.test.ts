import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareEventIds } from '../../src/domain/events.js';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { Redis } from 'ioredis';
import pino from 'pino';
import { RedisEventLog } from '../../src/adapters/redis/event-log.js';
import { firstBytesOnce, freePort, holdOpen } from '../support/net.js';
import { openEvents, type SseClient, type SseFrame } from '../support/sse.js';

/** GET /v1/events: Server-Sent Events carried through a Redis Stream from the API and the worker alike. */
let h: Harness;
const clients: SseClient[] = [];
const open = async (options: { lastEventId?: string; path?: string } = {}) => {
  const client = await openEvents(h.port, h.auth, options);
  clients.push(client);
  return client;
};
const about = (id: string, type: string) => (frame: SseFrame) =>
  frame.event === type && (JSON.parse(frame.data ?? '{}') as { container_id?: string }).container_id === id;

beforeAll(async () => {
  h = await startHarness({ SD_EVENTS_HEARTBEAT: '1', SD_ACTIVITY_SAMPLE_INTERVAL: '1' });
});
afterAll(async () => {
  clients.forEach((client) => client.close());
  await h?.close();
});

async function create(): Promise<string> {
  const res = await h.http
    .post('/v1/containers')
    .auth(...h.auth)
    .send({ image: TEST_IMAGES.demo });
  expect(res.status).toBe(201);
  return res.body.container_id as string;
}

describe('GET /v1/events', () => {
  it("streams a container's life, from the API (created, stopping, deleting) and from the worker (stopped, deleted), in order", async () => {
    const events = await open();
    expect(events.response.statusCode).toBe(200);
    expect(events.response.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(events.response.headers['x-accel-buffering']).toBe('no');

    const id = await create();
    const created = await events.next(about(id, 'container.created'));
    const body = JSON.parse(created.data as string) as { container: { container_id: string; status: string; ssh_keys: unknown[] } };
    expect(body.container).toMatchObject({ container_id: id, status: 'running', ssh_keys: [] });
    expect(created.data).not.toMatch(/token|tokenHash/);

    await h.http
      .patch(`/v1/containers/${id}`)
      .auth(...h.auth)
      .send({ status: 'stopped' });
    const stopping = await events.next(about(id, 'container.stopping'));
    const stopped = await events.next(about(id, 'container.stopped'));
    expect(JSON.parse(stopped.data as string).container.status).toBe('stopped');

    await h.http
      .patch(`/v1/containers/${id}`)
      .auth(...h.auth)
      .send({ status: 'running' });
    const started = await events.next(about(id, 'container.started'));
    await h.http.delete(`/v1/containers/${id}`).auth(...h.auth);
    await events.next(about(id, 'container.deleting'));
    const deleted = await events.next(about(id, 'container.deleted'));
    expect(JSON.parse(deleted.data as string)).toEqual({ container_id: id });

    const ids = [created, stopping, stopped, started, deleted].map((frame) => frame.id as string);
    expect([...ids].sort(compareEventIds)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('resumes after a reconnect with Last-Event-ID: what happened meanwhile comes first, nothing twice, then live', async () => {
    const first = await open();
    const id = await create();
    const created = await first.next(about(id, 'container.created'));
    first.close();

    // While no one listens: a stop (API, then worker) and another container.
    await h.http
      .patch(`/v1/containers/${id}`)
      .auth(...h.auth)
      .send({ status: 'stopped' });
    await expect.poll(async () => (await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body.status, { timeout: 20_000 }).toBe('stopped');
    const other = await create();

    const again = await open({ lastEventId: created.id as string });
    const missed = [
      await again.next((f) => f.event?.startsWith('container.') === true && about(id, f.event)(f)),
      await again.next((f) => f.event?.startsWith('container.') === true),
      await again.next((f) => f.event?.startsWith('container.') === true),
    ];
    expect(missed.map((f) => f.event)).toEqual(['container.stopping', 'container.stopped', 'container.created']);
    expect(JSON.parse(missed[2]?.data as string).container_id).toBe(other);
    expect(again.frames.some((f) => f.id === created.id)).toBe(false);

    // and it goes on live
    await h.http.delete(`/v1/containers/${other}`).auth(...h.auth);
    await again.next(about(other, 'container.deleting'));
  });

  it('tells a client whose Last-Event-ID is older than the log keeps that it missed events (events.gap)', async () => {
    const log = h.api.events;
    const seen = await open();
    const id = await create();
    const created = await seen.next(about(id, 'container.created'));
    seen.close();
    // The log keeps about SD_EVENTS_MAX_LENGTH (10,000) events; push the first one out.
    const record = await h.api.store.get(id);
    for (let i = 0; i < 10_300; i += 500) {
      await Promise.all(Array.from({ length: 500 }, () => log.publish({ type: 'container.activity', record: record! })));
    }
    const late = await open({ lastEventId: created.id as string });
    const gap = await late.next((f) => f.event !== undefined);
    expect(gap.event).toBe('events.gap');
    expect(JSON.parse(gap.data as string)).toEqual({ after: created.id });
  });

  it('tells of activity when a sample sees a client connect and leave (container.activity, from the worker)', async () => {
    const events = await open();
    const res = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: TEST_IMAGES.httpd });
    const id = res.body.container_id as string;
    const port = res.body.app_port as string;
    await firstBytesOnce(port, 'GET / HTTP/1.0\r\n\r\n');
    const socket = await holdOpen(port);
    const connections = (f: SseFrame) => (JSON.parse(f.data as string) as { container: { connections: string } }).container.connections;
    const busy = await events.next((f) => about(id, 'container.activity')(f) && connections(f) === '1', 15_000);
    expect(JSON.parse(busy.data as string).container.activity_source).toBe('observed');
    socket.destroy();
    await events.next((f) => about(id, 'container.activity')(f) && connections(f) === '0', 15_000);
  });

  it('tells a subscriber that Redis is away within the deadline, rather than keeping it waiting', async () => {
    const redis = new Redis(`redis://127.0.0.1:${await freePort()}`, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    const log = new RedisEventLog(redis, 'spin-docker:gone:', 1000, pino({ level: 'silent' }));
    try {
      await expect(log.subscribe(() => undefined, 500)).rejects.toMatchObject({ kind: 'unavailable', code: 'redis_unavailable' });
    } finally {
      log.close();
      redis.disconnect();
    }
  });

  it('sends heartbeat comments on an idle stream', async () => {
    const idle = await open();
    const ping = await idle.next((f) => f.comment === 'ping', 5_000);
    expect(ping.event).toBeUndefined();
  });

  it('refuses a malformed Last-Event-ID and unknown parameters with a 400, and asks for credentials', async () => {
    const bad = await h.http
      .get('/v1/events')
      .auth(...h.auth)
      .set('Last-Event-ID', 'yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/Last-Event-ID must be an event id/);
    expect((await h.http.get('/v1/events?since=0').auth(...h.auth)).status).toBe(400);
    expect((await h.http.get('/v1/events')).status).toBe(401);
  });

  it('tells of a pull of an image: pulling, then failed, with the pull object', async () => {
    const events = await open();
    const res = await h.http
      .post('/v1/images')
      .auth(...h.auth)
      .send({ image: '127.0.0.1:1/nothing-here:1' });
    expect(res.status).toBe(202);
    const pullId = res.body.pull_id as string;
    const isPull = (status: string) => (f: SseFrame) =>
      f.event === 'image.pull' && JSON.parse(f.data as string).pull.pull_id === pullId && JSON.parse(f.data as string).pull.status === status;
    await events.next(isPull('pulling'));
    const failed = await events.next(isPull('failed'), 40_000);
    expect(JSON.parse(failed.data as string).pull.error).toMatch(/\S/);
  });
});
