import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, testRedisUrl, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { freePort } from '../support/net.js';
import { kill, startProcess, type ServerProcess } from '../support/processes.js';
import { sample } from '../support/prom.js';

/**
 * What streams (followed logs, long logs, event streams) may cost the API: no more memory than a reader that
 * keeps up, nothing left behind by a client that leaves at once, and no hold on a shutdown.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ SD_CONTAINER_LOG_MAX_SIZE: '200m' });
});
afterAll(async () => {
  await h?.close();
});

async function create(image: string): Promise<string> {
  const res = await h.http
    .post('/v1/containers')
    .auth(...h.auth)
    .send({ image });
  expect(res.status).toBe(201);
  return res.body.container_id as string;
}

const authorization = () => `Basic ${Buffer.from(h.auth.join(':')).toString('base64')}`;

/** A client that sends a request and then reads nothing (its socket paused), from the given loopback address. */
function stalledClient(path: string, from = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: h.port, host: '127.0.0.1', localAddress: from }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${h.port}\r\nAuthorization: ${authorization()}\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Bytes of Buffers alive in this process (where a stream's backlog lives), after a full collection. */
function bufferBytes(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().arrayBuffers;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MiB = 1024 * 1024;

describe('a log read by a client that reads slowly', () => {
  it('followed: the engine waits for the reader; the API does not keep what it has not sent', async () => {
    const id = await create(TEST_IMAGES.flood);
    const before = bufferBytes();
    const socket = await stalledClient(`/v1/containers/${id}/logs?follow=true&tail=0`);
    await sleep(5000);
    const grown = bufferBytes() - before;
    socket.destroy();
    // Before, the demultiplexed lines piled up in a PassThrough at the container's output rate (hundreds of MiB).
    expect(grown).toBeLessThan(16 * MiB);
    await h.docker.getContainer(id).remove({ force: true });
  });

  it('without follow: a long log is streamed, never held whole', async () => {
    const id = await create(TEST_IMAGES.flood);
    const logPath = (await h.docker.getContainer(id).inspect()).LogPath;
    // Let it write a log of some size, then stop it there.
    for (let waited = 0; statSync(logPath).size < 80 * MiB && waited < 30_000; waited += 200) await sleep(200);
    await h.docker.getContainer(id).kill();
    expect(statSync(logPath).size).toBeGreaterThan(60 * MiB);
    const before = bufferBytes();
    const socket = await stalledClient(`/v1/containers/${id}/logs?tail=all`);
    await sleep(3000);
    const grown = bufferBytes() - before;
    // It is being answered all the same: the log's lines come once the client reads.
    const head = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (text.length > 4096) resolve(text);
      });
      socket.once('end', () => resolve(text));
      socket.resume();
    });
    expect(head).toMatch(/^HTTP\/1\.1 200 [\s\S]*0123456789abcdef/);
    socket.destroy();
    // Before, the engine's answer was read into one Buffer (the whole log, here tens of MiB) before a byte was sent.
    expect(grown).toBeLessThan(16 * MiB);
  });
});

describe('clients that send their request and leave at once', () => {
  it('leave no subscriber, timer or engine stream behind (followed logs and event streams)', async () => {
    const id = await create(TEST_IMAGES.chatty);
    const handles = () => {
      const kinds = process.getActiveResourcesInfo();
      return { timers: kinds.filter((k) => k === 'Timeout').length, pipes: kinds.filter((k) => k === 'PipeWrap').length };
    };
    // Settled: the harness's own timers and engine connections.
    await sleep(1000);
    const before = handles();
    for (let i = 0; i < 20; i += 1) {
      // A new address each time: its login is looked up in Redis (an await) before the route runs, as for any
      // client not seen in the last second, and it leaves meanwhile.
      const from = `127.0.${10 + i}.${1 + ((randomBytes(1)[0] as number) % 250)}`;
      for (const path of [`/v1/containers/${id}/logs?follow=true`, '/v1/events']) (await stalledClient(path, from)).destroy();
    }
    await sleep(3000);
    const after = handles();
    // Before, each left a heartbeat timer (events) or an open engine stream (logs): 20 of each.
    expect(after.timers - before.timers).toBeLessThan(5);
    expect(after.pipes - before.pipes).toBeLessThan(5);
  });
});

describe('GET /healthz', () => {
  it('is answered from what the API knows: many calls, at most one engine ping', async () => {
    const pings = async () => sample(await h.api.metrics.registry.metrics(), 'spin_docker_engine_call_duration_seconds_count', { operation: 'ping' }) || 0;
    const before = await pings();
    for (let i = 0; i < 30; i += 1) expect((await h.http.get('/healthz')).body.docker).toBe('ok');
    expect((await pings()) - before).toBeLessThanOrEqual(1);
  });
});

describe('a shutdown (SIGTERM) with open streams', () => {
  let api: ServerProcess | undefined;
  afterAll(async () => {
    await kill(api);
  });

  it('ends the event stream and a followed log, and exits 0 at once rather than after its 15 s deadline', async () => {
    const port = await freePort();
    const instance = `test-${randomBytes(4).toString('hex')}`;
    api = startProcess('api', { SD_PORT: String(port), SD_HOST: '127.0.0.1', SD_PASSWORD: 'pw', SD_INSTANCE: instance, REDIS_URL: testRedisUrl() });
    await api.waitFor('API listening');
    const headers = { authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` };
    const created = await fetch(`http://127.0.0.1:${port}/v1/containers`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ image: TEST_IMAGES.chatty }),
    });
    const { container_id: id } = (await created.json()) as { container_id: string };
    try {
      const events = await fetch(`http://127.0.0.1:${port}/v1/events`, { headers });
      const logs = await fetch(`http://127.0.0.1:${port}/v1/containers/${id}/logs?follow=true`, { headers });
      expect([events.status, logs.status]).toEqual([200, 200]);
      const eventsEnded = events.text();
      const logsEnded = logs.text();
      api.child.kill('SIGTERM');
      // Before, the open streams held the drain until the 15 s deadline, and the process exited 1.
      expect(await api.exited()).toBe(0);
      // Both streams ended cleanly (their clients reconnect to the next process).
      expect(await eventsEnded).toMatch(/^retry: 2000/);
      expect(await logsEnded).toMatch(/out-\d+/);
    } finally {
      await h.docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
    }
  });
});
