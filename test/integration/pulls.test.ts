import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { PrivateRegistry, SlowProxy } from '../support/registry.js';

/**
 * Adding and removing images through the API, against a real registry on loopback: a test image with a 24 MB
 * layer is pushed to it and removed locally, then pulled through the API (through a proxy that passes 8 MB/s,
 * so that the progress can be watched and the registry taken away mid-pull).
 */
const run = promisify(execFile);
const docker = (...args: string[]) => run('docker', args, { maxBuffer: 16 * 1024 * 1024 });
const BUILT = `spin-docker-test/big:${randomBytes(3).toString('hex')}`;
let registry: PrivateRegistry;
let slow: SlowProxy;
let h: Harness;

interface PullView {
  pull_id: string;
  status: string;
  bytes_done: number;
  bytes_total: number;
  error: string | null;
  layers: { id: string; current: number; total: number }[];
  uri: string;
}

beforeAll(async () => {
  registry = await PrivateRegistry.start();
  slow = await SlowProxy.start(registry.port, 8 * 1024 * 1024);
  const context = mkdtempSync(join(tmpdir(), 'sd-big-'));
  try {
    copyFileSync('/bin/busybox', join(context, 'busybox'));
    writeFileSync(join(context, 'big.bin'), randomBytes(24 * 1024 * 1024));
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY big.bin /big.bin\nCMD ["/bin/busybox", "sleep", "3600"]\n');
    await docker('build', '-q', '-t', BUILT, context);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  for (const tag of ['1', '2']) {
    await docker('tag', BUILT, `${registry.host}/sd/big:${tag}`);
    await docker('push', `${registry.host}/sd/big:${tag}`);
    await docker('rmi', `${registry.host}/sd/big:${tag}`);
  }
  // Nothing of it is left on the engine: every pull below downloads for real.
  await docker('rmi', BUILT);
  // A registry that goes away mid-pull is given up after 3 s without progress (the engine would retry for minutes).
  h = await startHarness({ SD_PULL_STALL_TIMEOUT: '3' });
}, 120_000);

afterAll(async () => {
  await h?.close();
  for (const host of [slow?.host, registry?.host]) {
    for (const tag of ['1', '2']) await docker('rmi', '-f', `${host}/sd/big:${tag}`).catch(() => undefined);
  }
  await slow?.cut();
  await registry?.destroy();
});

const pullOf = async (uri: string) => (await h.http.get(uri).auth(...h.auth)).body as PullView;
const images = async () => (await h.http.get('/v1/images').auth(...h.auth)).body as string[];

/** Follows a pull until it ends, keeping every bytes_done it saw on the way. */
async function follow(uri: string): Promise<{ last: PullView; seen: number[] }> {
  const seen: number[] = [];
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    const pull = await pullOf(uri);
    seen.push(pull.bytes_done);
    if (pull.status !== 'pulling') return { last: pull, seen };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`pull ${uri} did not end within a minute`);
}

describe('POST /v1/images (a pull in the worker) and GET /v1/images/pulls/<id>', () => {
  it('pulls from a registry with progress, answers the same pull when asked again, and the image can be started', async () => {
    const reference = `${slow.host}/sd/big:1`;
    const asked = await h.http
      .post('/v1/images')
      .auth(...h.auth)
      .send({ image: reference });
    expect(asked.status).toBe(202);
    expect(asked.headers.location).toBe(`/v1/images/pulls/${asked.body.pull_id as string}`);
    expect(asked.body).toMatchObject({ image: reference, status: 'pulling', error: null });
    const again = await h.http
      .post('/v1/images')
      .auth(...h.auth)
      .type('form')
      .send({ image: reference });
    expect(again.status).toBe(202);
    expect(again.body.pull_id).toBe(asked.body.pull_id);

    const { last, seen } = await follow(asked.headers.location as string);
    expect(last).toMatchObject({ status: 'done', error: null });
    expect(last.bytes_total).toBeGreaterThan(24 * 1024 * 1024);
    expect(last.bytes_done).toBe(last.bytes_total);
    // Progress advanced while it ran: some look saw part of the bytes, and none ever went backwards.
    expect(seen.some((done) => done > 0 && done < last.bytes_total)).toBe(true);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));

    await expect.poll(images, { timeout: 5_000, interval: 100 }).toContain(reference);
    const created = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: reference });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('running');

    const present = await h.http
      .post('/v1/images')
      .auth(...h.auth)
      .send({ image: reference });
    expect(present.status).toBe(200);
    expect(present.body).toEqual({ image: reference, status: 'present' });
  });

  it('says failed, in words, for a repository or tag the registry does not have', async () => {
    for (const reference of [`${registry.host}/sd/nothing:1`, `${registry.host}/sd/big:nope`]) {
      const asked = await h.http
        .post('/v1/images')
        .auth(...h.auth)
        .send({ image: reference });
      expect(asked.status).toBe(202);
      const { last } = await follow(asked.headers.location as string);
      expect(last.status).toBe('failed');
      expect(last.error).toMatch(/not found|unknown/i);
      expect(await images()).not.toContain(reference);
    }
  });

  it('fails a pull whose registry goes away mid-way, lists nothing of it, and a later pull succeeds', async () => {
    const reference = `${slow.host}/sd/big:2`;
    // big:1 is still here with its layers: drop them, so that this pull downloads again.
    const running = (await h.http.get('/v1/containers').auth(...h.auth)).body as { container_id: string }[];
    for (const { container_id: id } of running) await h.docker.getContainer(id).remove({ force: true });
    await docker('rmi', `${slow.host}/sd/big:1`);

    const asked = await h.http
      .post('/v1/images')
      .auth(...h.auth)
      .send({ image: reference });
    await expect.poll(async () => (await pullOf(asked.headers.location as string)).bytes_done, { timeout: 20_000, interval: 50 }).toBeGreaterThan(0);
    await slow.cut();
    const { last } = await follow(asked.headers.location as string);
    expect(last.status).toBe('failed');
    expect(last.error).toMatch(/no progress for 3 s/);
    expect(await images()).not.toContain(reference);

    await slow.up();
    const retry = await h.http
      .post('/v1/images')
      .auth(...h.auth)
      .send({ image: reference });
    expect(retry.status).toBe(202);
    expect(retry.body.pull_id).not.toBe(asked.body.pull_id);
    expect((await follow(retry.headers.location as string)).last.status).toBe('done');
    await expect.poll(images, { timeout: 5_000, interval: 100 }).toContain(reference);
  });

  it('refuses a malformed reference (400), an unknown pull (404), and an image SD_ALLOWED_IMAGES does not allow (403)', async () => {
    for (const image of ['', 'UPPER/case', 'a b', 'x'.repeat(300)]) {
      const res = await h.http
        .post('/v1/images')
        .auth(...h.auth)
        .send({ image });
      expect(res.status).toBe(400);
    }
    expect(
      (
        await h.http
          .post('/v1/images')
          .auth(...h.auth)
          .send({ image: 'x', tag: 'y' })
      ).body.code,
    ).toBe('option_not_allowed');
    expect((await h.http.get('/v1/images/pulls/0123456789abcdef').auth(...h.auth)).status).toBe(404);
    expect((await h.http.get('/v1/images/pulls/nonsense').auth(...h.auth)).status).toBe(404);
    const only = await startHarness({ SD_ALLOWED_IMAGES: 'spin-docker/*' }, { worker: false });
    try {
      const res = await only.http
        .post('/v1/images')
        .auth(...only.auth)
        .send({ image: `${registry.host}/sd/big:1` });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('image_not_allowed');
    } finally {
      await only.close();
    }
  });

  it('refuses a pull from a registry on this host unless SD_ALLOWED_REGISTRIES lists it, and starts none', async () => {
    const closed = await startHarness({ SD_ALLOWED_REGISTRIES: '' }, { worker: false });
    try {
      for (const image of [`${registry.host}/sd/big:1`, `localhost:${registry.port}/sd/big:1`, '169.254.169.254/latest/x']) {
        const res = await closed.http
          .post('/v1/images')
          .auth(...closed.auth)
          .send({ image });
        expect({ image, status: res.status, code: res.body.code }).toEqual({ image, status: 403, code: 'registry_not_allowed' });
        expect(res.body.message).toMatch(/SD_ALLOWED_REGISTRIES/);
      }
    } finally {
      await closed.close();
    }
  });
});

describe('DELETE /v1/images/<reference>', () => {
  it('answers 409 while a managed container uses the image, 204 once none does, and 404 for an unknown one', async () => {
    const reference = `${slow.host}/sd/big:2`;
    const path = `/v1/images/${encodeURIComponent(reference)}`;
    const created = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: reference });
    expect(created.status).toBe(201);

    const refused = await h.http.delete(path).auth(...h.auth);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('image_in_use');
    expect(await images()).toContain(reference);

    await h.docker.getContainer(created.body.container_id as string).remove({ force: true });
    await h.worker.store.remove(created.body.container_id as string);
    expect((await h.http.delete(path).auth(...h.auth)).status).toBe(204);
    await expect.poll(images, { timeout: 5_000, interval: 100 }).not.toContain(reference);
    expect((await h.http.delete(path).auth(...h.auth)).status).toBe(404);
    expect((await h.http.delete(`/v1/images/${encodeURIComponent('not/there:1')}`).auth(...h.auth)).status).toBe(404);
  });
});
