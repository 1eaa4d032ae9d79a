import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';

let h: Harness;
let untrusting: Harness;
beforeAll(async () => {
  [h, untrusting] = await Promise.all([startHarness(), startHarness({ SD_TRUSTED_PROXIES: 'none' })]);
});
afterAll(async () => {
  await Promise.all([h?.close(), untrusting?.close()]);
});

async function createIn(harness: Harness, image: string) {
  const res = await harness.http.post('/v1/containers').auth(...harness.auth).type('form').send({ image });
  expect(res.status).toBe(201);
  return res.body as { container_id: string };
}

async function addressOf(harness: Harness, id: string): Promise<string> {
  const info = await harness.api.docker.getContainer(id).inspect();
  return info.NetworkSettings.Networks.bridge?.IPAddress ?? '';
}

/** Runs busybox wget inside the container: a check-in sent over the bridge, as the images send it. */
async function checkInFromInside(harness: Harness, id: string, body: string): Promise<string> {
  const exec = await harness.api.docker.getContainer(id).exec({
    Cmd: ['sh', '-c', `wget -q -O - --post-data '${body}' "$SD_CHECKIN_URL" 2>&1; echo " exit=$?"`],
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  await new Promise((resolve) => {
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', resolve);
  });
  // Docker's multiplexed stream puts 8-byte frame headers around the text; searching it is enough.
  return Buffer.concat(chunks).toString('latin1');
}

describe('POST /v1/check-in', () => {
  it('from inside a container over the bridge, changes that container\'s active count', async () => {
    const { container_id: id } = await createIn(h, TEST_IMAGES.demo);
    const output = await checkInFromInside(h, id, 'active-connections=4');
    expect(output).toContain('exit=0');
    const res = await h.http.get(`/v1/containers/${id}`).auth(...h.auth);
    expect(res.body.active).toBe('4');
    expect(res.body.last_check_in).not.toBeNull();
  });

  it('receives the demo image\'s own periodic reports', async () => {
    const { container_id: id } = await createIn(h, TEST_IMAGES.fast);
    await expect
      .poll(async () => (await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body.last_check_in, { timeout: 15_000 })
      .not.toBeNull();
  });

  it('accepts the original images\' field name `active`, as form or JSON', async () => {
    const { container_id: id } = await createIn(h, TEST_IMAGES.noPorts);
    const ip = await addressOf(h, id);
    const form = await h.http.post('/v1/check-in').set('X-Forwarded-For', ip).type('form').send({ active: '2' });
    expect(form.status).toBe(200);
    expect((await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body.active).toBe('2');
    const json = await h.http.post('/v1/check-in').set('X-Real-IP', ip).send({ 'active-connections': 7 });
    expect(json.status).toBe(200);
    expect((await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body.active).toBe('7');
  });

  it.each([['-1'], ['abc'], ['1.5'], [''], ['1e3']])('refuses the value %j with 400 and changes nothing', async (value) => {
    const { container_id: id } = await createIn(h, TEST_IMAGES.noPorts);
    const ip = await addressOf(h, id);
    const res = await h.http.post('/v1/check-in').set('X-Forwarded-For', ip).type('form').send({ 'active-connections': value });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/non-negative integer/);
    expect((await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body).toMatchObject({ active: '0', last_check_in: null });
  });

  it('refuses a check-in without any value with 400', async () => {
    const res = await h.http.post('/v1/check-in').type('form').send({});
    expect(res.status).toBe(400);
  });

  it('answers 404 for an address no container has', async () => {
    const res = await h.http.post('/v1/check-in').type('form').send({ 'active-connections': '1' });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('unknown_address');
  });

  it('ignores forwarded headers from a peer that is not a trusted proxy', async () => {
    const { container_id: id } = await createIn(untrusting, TEST_IMAGES.noPorts);
    const ip = await addressOf(untrusting, id);
    const res = await untrusting.http.post('/v1/check-in').set('X-Forwarded-For', ip).set('X-Real-IP', ip).type('form').send({ active: '3' });
    expect(res.status).toBe(404);
    expect((await untrusting.http.get(`/v1/containers/${id}`).auth(...untrusting.auth)).body.active).toBe('0');
  });

  it('needs no credentials', async () => {
    const { container_id: id } = await createIn(h, TEST_IMAGES.noPorts);
    const res = await h.http.post('/v1/check-in').set('X-Forwarded-For', await addressOf(h, id)).type('form').send({ active: '1' });
    expect(res.status).toBe(200);
  });
});
