import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { DockerProxy } from '../support/processes.js';
import { waitUntil } from '../support/wait.js';

/** GET /v1/containers/<id>/logs: a container's stdout and stderr as text, demultiplexed; followed on request. */
const proxy = new DockerProxy();
let h: Harness;
let id = '';
beforeAll(async () => {
  await proxy.up();
  h = await startHarness({ DOCKER_HOST: proxy.dockerHost }, { worker: false });
  id = (
    await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: TEST_IMAGES.chatty })
  ).body.container_id as string;
  // The first test wants both streams in its last lines: wait until the chatty container has written some.
  await waitUntil(
    'four lines of log',
    async () => ((await h.http.get(`/v1/containers/${id}/logs?tail=4`).auth(...h.auth)).text.trim().split('\n').length >= 4 ? true : undefined),
    15_000,
  );
});
afterAll(async () => {
  await h?.close();
  await proxy.destroy();
});

/** Follows a log over plain HTTP, handing every chunk to `onText`; resolves with the request and its end. */
function follow(path: string, onText: (text: string) => void): Promise<{ abort: () => void; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: h.port, path, auth: `admin:${PASSWORD}` }, (res) => {
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      const ended = new Promise<void>((done) => res.once('close', () => done()));
      res.on('data', (d: Buffer) => onText(d.toString()));
      resolve({ abort: () => req.destroy(), ended });
    });
    req.on('error', () => undefined);
    req.once('error', reject);
    req.end();
  });
}

describe('GET /v1/containers/<id>/logs', () => {
  it('gives the last lines of stdout and stderr as plain text', async () => {
    const res = await h.http.get(`/v1/containers/${id}/logs?tail=4`).auth(...h.auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const lines = res.text.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.some((line) => /^out-\d+$/.test(line))).toBe(true);
    expect(lines.some((line) => /^err-\d+$/.test(line))).toBe(true);
    // Demultiplexed: none of Docker's 8-byte frame headers left in the text.
    expect([...res.text].some((c) => c.charCodeAt(0) <= 2)).toBe(false);
  });

  it('adds timestamps on request, and takes a short id', async () => {
    const res = await h.http.get(`/v1/containers/${id.slice(0, 8)}/logs?tail=2&timestamps=true`).auth(...h.auth);
    for (const line of res.text.trim().split('\n')) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (out|err)-\d+$/);
  });

  it("follows until the client goes away, and drops the engine's stream then", async () => {
    const following = () => proxy.openMatching(/\/logs\?.*follow=(1|true)/);
    expect(following()).toBe(0);
    let text = '';
    const { abort, ended } = await follow(`/v1/containers/${id}/logs?tail=0&follow=true`, (t) => (text += t));
    await expect.poll(() => text.split('\n').filter((line) => line.startsWith('out-')).length, { timeout: 5_000, interval: 50 }).toBeGreaterThanOrEqual(3);
    expect(following()).toBe(1);
    abort();
    await ended;
    await expect.poll(following, { timeout: 5_000, interval: 50 }).toBe(0);
  });

  it('ends a followed log when the container stops', async () => {
    let text = '';
    const { ended } = await follow(`/v1/containers/${id}/logs?tail=1&follow=true`, (t) => (text += t));
    await h.docker.getContainer(id).stop({ t: 1 });
    await ended;
    expect(text).toMatch(/(out|err)-\d+/);
  });

  it('refuses a bad query with 400 and an unknown container with 404', async () => {
    for (const query of ['tail=-1', 'tail=lots', 'follow=maybe', 'since=1']) {
      expect((await h.http.get(`/v1/containers/${id}/logs?${query}`).auth(...h.auth)).status).toBe(400);
    }
    expect((await h.http.get(`/v1/containers/${'e'.repeat(64)}/logs`).auth(...h.auth)).status).toBe(404);
  });
});
