import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { buildDeps } from '../../src/bootstrap/deps.js';
import { createLogger } from '../../src/bootstrap/logger.js';
import { startHarness, testRedisUrl, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';

/** What a client may set on a create (ssh_key, env) and which images it may start (SD_ALLOWED_IMAGES). */
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILUV5ErnKdseIqInw8AS3grtsEOmTR7DR0ELunVf6aPO alice@laptop';
const ED25519_FINGERPRINT = 'SHA256:Hk/IWXMZ+5c1rSO/XddSXj327jgTVWqYGnoLhfbMVpg';
const ECDSA =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOgIbC9bgg9tB2D37y4MMAdMTg9cp3k7elPhZH+zJrFMA34cLZK+PSj6dSi0B8Cw+cSbF5d5sIb38Z70r/SQ1y4= bob';
const ECDSA_FINGERPRINT = 'SHA256:gLNDCpSAccR27WnhQtl3jmOwXK0VEe0GO4HkFrmIoIE';

const docker = new Docker();
let h: Harness;
beforeAll(async () => {
  h = await startHarness({}, { worker: false });
});
afterAll(async () => {
  await h?.close();
});

const envOf = async (id: string) => (await docker.getContainer(id).inspect()).Config.Env;

describe('POST /v1/containers with ssh_key and env', () => {
  it("hands the keys and variables to the container and shows only the keys' fingerprints", async () => {
    const res = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: TEST_IMAGES.noPorts, ssh_key: `${ED25519}\n${ECDSA}\n`, env: { POSTGRES_PASSWORD: 's3cret', POSTGRES_DB: 'shop' } });
    expect(res.status).toBe(201);
    expect(res.body.ssh_keys).toEqual([ED25519_FINGERPRINT, ECDSA_FINGERPRINT]);
    expect(JSON.stringify(res.body)).not.toMatch(/s3cret|AAAAC3Nza|POSTGRES/);
    const env = await envOf(res.body.container_id as string);
    expect(env).toEqual(expect.arrayContaining(['POSTGRES_PASSWORD=s3cret', 'POSTGRES_DB=shop', `SD_SSH_AUTHORIZED_KEYS=${ED25519}\n${ECDSA}`]));
    expect(env.find((v) => v.startsWith('SD_CHECKIN_TOKEN='))).toBeDefined();
    expect((await h.http.get(res.headers.location as string).auth(...h.auth)).body.ssh_keys).toEqual([ED25519_FINGERPRINT, ECDSA_FINGERPRINT]);
  });

  it('takes repeated form fields, env=NAME=value', async () => {
    const res = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .type('form')
      .send(`image=${encodeURIComponent(TEST_IMAGES.noPorts)}&env=A%3D1&env=B%3Dx%3Dy&ssh_key=${encodeURIComponent(ED25519)}`);
    expect(res.status).toBe(201);
    expect(res.body.ssh_keys).toEqual([ED25519_FINGERPRINT]);
    expect(await envOf(res.body.container_id as string)).toEqual(expect.arrayContaining(['A=1', 'B=x=y']));
  });

  it.each([
    ['a key that is not one', { ssh_key: 'hello' }, /^ssh_key/],
    ['a key of a bad type', { ssh_key: 'ssh-dss AAAAB3NzaC1kc3MAAACBAP8= x' }, /^ssh_key/],
    ['too many key bytes', { ssh_key: `${ED25519}\n`.repeat(100) }, /^ssh_key is larger than 8 KiB/],
    ['a bad variable name', { env: { 'NOT-OK': '1' } }, /^env name "NOT-OK"/],
    ['an SD_ variable', { env: { SD_CHECKIN_TOKEN: 'forged' } }, /^env name SD_CHECKIN_TOKEN is reserved/],
    ['65 variables', { env: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`V${i}`, 'x'])) }, /^env has more than 64/],
    ['17 KiB of variables', { env: { BIG: 'x'.repeat(17 * 1024) } }, /^env is larger than 16 KiB/],
    ['env as a number', { env: 7 }, /^env must be/],
  ])('refuses %s with a 400 naming the field, and creates nothing', async (_name, extra, message) => {
    const before = (await h.worker.runtime.listManaged()).length;
    const res = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: TEST_IMAGES.noPorts, ...extra });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_request');
    expect(res.body.message).toMatch(message);
    expect((await h.worker.runtime.listManaged()).length).toBe(before);
  });

  it('still refuses every other option', async () => {
    const res = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: TEST_IMAGES.noPorts, env: { A: '1' }, privileged: true });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('option_not_allowed');
  });
});

describe('SD_SSH_AUTHORIZED_KEYS_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sd-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives its keys to every container created without ssh_key', async () => {
    const file = join(dir, 'authorized_keys');
    writeFileSync(file, `# the team\n${ECDSA}\n`);
    const withDefault = await startHarness({ SD_SSH_AUTHORIZED_KEYS_FILE: file }, { worker: false });
    try {
      const plain = await withDefault.http
        .post('/v1/containers')
        .auth(...withDefault.auth)
        .send({ image: TEST_IMAGES.noPorts });
      expect(plain.body.ssh_keys).toEqual([ECDSA_FINGERPRINT]);
      expect(await envOf(plain.body.container_id as string)).toContain(`SD_SSH_AUTHORIZED_KEYS=${ECDSA}`);
      const own = await withDefault.http
        .post('/v1/containers')
        .auth(...withDefault.auth)
        .send({ image: TEST_IMAGES.noPorts, ssh_key: ED25519 });
      expect(own.body.ssh_keys).toEqual([ED25519_FINGERPRINT]);
    } finally {
      await withDefault.close();
    }
  });

  it('stops the process at start-up when the file holds a bad key, naming the variable', async () => {
    const file = join(dir, 'bad');
    writeFileSync(file, 'not a key\n');
    const config = loadConfig({ SD_INSTANCE: 'test-badkeys', REDIS_URL: testRedisUrl(), SD_SSH_AUTHORIZED_KEYS_FILE: file, SD_LOG_LEVEL: 'silent' });
    await expect(buildDeps(config, createLogger('silent', 'test'), { role: 'api', checkinUrl: 'http://127.0.0.1:1/' })).rejects.toThrow(
      /SD_SSH_AUTHORIZED_KEYS_FILE/,
    );
  });
});

describe('SD_ALLOWED_IMAGES', () => {
  it('refuses an image no pattern allows with 403, and creates nothing', async () => {
    const only = await startHarness({ SD_ALLOWED_IMAGES: 'spin-docker/*, spin-docker-test/exits' }, { worker: false });
    try {
      const refused = await only.http
        .post('/v1/containers')
        .auth(...only.auth)
        .send({ image: TEST_IMAGES.noPorts });
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('image_not_allowed');
      expect(await only.worker.runtime.listManaged()).toEqual([]);
      expect(
        (
          await only.http
            .post('/v1/containers')
            .auth(...only.auth)
            .send({ image: TEST_IMAGES.demo })
        ).status,
      ).toBe(201);
      expect(
        (
          await only.http
            .post('/v1/containers')
            .auth(...only.auth)
            .send({ image: `${TEST_IMAGES.exits}:latest` })
        ).status,
      ).toBe(201);
    } finally {
      await only.close();
    }
  });
});
