import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { DockerProxy } from '../support/processes.js';

/** GET /v1/images from memory, kept in step with the engine's image events. */
const run = promisify(execFile);
const proxy = new DockerProxy();
let h: Harness;
beforeAll(async () => {
  await proxy.up();
  h = await startHarness({ DOCKER_HOST: proxy.dockerHost }, { worker: false });
});
afterAll(async () => {
  await h?.close();
  await proxy.destroy();
});

const images = async () => (await h.http.get('/v1/images').auth(...h.auth)).body as string[];

describe('GET /v1/images', () => {
  it('follows tags added and removed on the engine', async () => {
    expect(await images()).toContain(`${TEST_IMAGES.noPorts}:latest`);
    const tag = `spin-docker-test/tagged:${randomBytes(3).toString('hex')}`;
    await run('docker', ['tag', TEST_IMAGES.noPorts, tag]);
    try {
      await expect.poll(images, { timeout: 5_000, interval: 50 }).toContain(tag);
    } finally {
      await run('docker', ['rmi', tag]);
    }
    await expect.poll(images, { timeout: 5_000, interval: 50 }).not.toContain(tag);
  });

  it('is answered from memory: no engine call per request', async () => {
    await images();
    const listed = () => proxy.requests.filter((line) => /^GET \S*\/images\/json/.test(line)).length;
    const before = listed();
    for (let i = 0; i < 50; i += 1) expect(await images()).toContain(`${TEST_IMAGES.noPorts}:latest`);
    expect(listed()).toBe(before);
  });

  it('asks the engine itself while it cannot follow it, and is rebuilt once it can', async () => {
    await proxy.down();
    const res = await h.http
      .get('/v1/images')
      .auth(...h.auth)
      .timeout(10_000);
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('docker_unavailable');
    // A tag made while nobody can see it…
    const tag = `spin-docker-test/tagged:${randomBytes(3).toString('hex')}`;
    await run('docker', ['tag', TEST_IMAGES.noPorts, tag]);
    try {
      await proxy.up();
      // …is there once the catalog is rebuilt, and it is served from memory again.
      await expect.poll(async () => (await h.http.get('/v1/images').auth(...h.auth)).body as unknown, { timeout: 15_000, interval: 100 }).toContain(tag);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const listed = () => proxy.requests.filter((line) => /^GET \S*\/images\/json/.test(line)).length;
      const before = listed();
      await images();
      expect(listed()).toBe(before);
    } finally {
      await run('docker', ['rmi', tag]);
    }
  });
});
