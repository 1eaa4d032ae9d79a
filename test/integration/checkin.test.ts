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
  const res = await harness.http
    .post('/v1/containers')
    .auth(...harness.auth)
    .type('form')
    .send({ image });
  expect(res.status).toBe(201);
  return res.body as { container_id: string };
}

async function addressOf(harness: Harness, id: string): Promise<string> {
  const info = await harness.docker.getContainer(id).inspect();
  return Object.values(info.NetworkSettings.Networks)[0]?.IPAddress ?? '';
}

/** Runs busybox wget inside the container: a check-in sent over the bridge, as the images send it. */
async function checkInFromInside(harness: Harness, id: string, body: string, header = ''): Promise<string> {
  const exec = await harness.docker.getContainer(id).exec({
    Cmd: ['sh', '-c', `wget -q -O - ${header === '' ? '' : `--header '${header}'`} --post-data '${body}' "$SD_CHECKIN_URL" 2>&1; echo " exit=$?"`],
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

async function tokenOf(harness: Harness, id: string): Promise<string> {
  const info = await harness.docker.getContainer(id).inspect();
  const entry = (info.Config.Env ?? []).find((e) => e.startsWith('SD_CHECKIN_TOKEN='));
  return entry?.slice('SD_CHECKIN_TOKEN='.length) ?? '';
}

const activeOf = async (harness: Harness, id: string) => (await harness.http.get(`/v1/containers/${id}`).auth(...harness.auth)).body.active as string;

describe('check-in tokens', () => {
  it('gives every container its own token, which counts for it from anywhere', async () => {
    const { container_id: id } = await createIn(h, TEST_IMAGES.noPorts);
    const token = await tokenOf(h, id);
    expect(token.length).toBeGreaterThanOrEqual(32);
    // From loopback, which is no container's address: the token alone names the container.
    const bearer = await h.http.post('/v1/check-in').set('Authorization', `Bearer ${token}`).type('form').send({ 'active-connections': '6' });
    expect(bearer.status).toBe(200);
    expect(await activeOf(h, id)).toBe('6');
    const field = await h.http.post('/v1/check-in').send({ active: 2, token });
    expect(field.status).toBe(200);
    expect(await activeOf(h, id)).toBe('2');
  });

  it('refuses an unknown token with 403 and changes nothing', async () => {
    const { container_id: id } = await createIn(h, TEST_IMAGES.noPorts);
    const res = await h.http
      .post('/v1/check-in')
      .set('X-Forwarded-For', await addressOf(h, id))
      .set('Authorization', 'Bearer not-a-real-token')
      .type('form')
      .send({ active: '5' });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('invalid_token');
    expect(await activeOf(h, id)).toBe('0');
  });

  it("refuses a check-in from one container carrying another container's token", async () => {
    const { container_id: sender } = await createIn(h, TEST_IMAGES.demo);
    const { container_id: victim } = await createIn(h, TEST_IMAGES.noPorts);
    const output = await checkInFromInside(h, sender, `active-connections=9&token=${await tokenOf(h, victim)}`);
    expect(output).not.toContain('exit=0');
    expect(await activeOf(h, victim)).toBe('0');
    expect(await activeOf(h, sender)).not.toBe('9');
  });

  it('stops counting once the container is deleted', async () => {
    const { container_id: id } = await createIn(h, TEST_IMAGES.noPorts);
    const token = await tokenOf(h, id);
    expect((await h.http.delete(`/v1/containers/${id}`).auth(...h.auth)).status).toBe(204);
    await expect.poll(async () => (await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).status, { timeout: 20_000 }).toBe(404);
    const res = await h.http.post('/v1/check-in').set('Authorization', `Bearer ${token}`).send({ active: 1 });
    expect(res.status).toBe(403);
    expect(await h.api.store.get(id)).toBeNull();
  });
});

describe('POST /v1/check-in', () => {
  it("from inside a container over the bridge, changes that container's active count", async () => {
    const { container_id: id } = await createIn(h, TEST_IMAGES.demo);
    const output = await checkInFromInside(h, id, 'active-connections=4');
    expect(output).toContain('exit=0');
    const res = await h.http.get(`/v1/containers/${id}`).auth(...h.auth);
    expect(res.body.active).toBe('4');
    expect(res.body.last_check_in).not.toBeNull();
  });

  it("receives the demo image's own periodic reports", async () => {
    const { container_id: id } = await createIn(h, TEST_IMAGES.fast);
    await expect.poll(async () => (await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body.last_check_in, { timeout: 15_000 }).not.toBeNull();
  });

  it("accepts the original images' field name `active`, as form or JSON", async () => {
    const { container_id: id } = await createIn(h, TEST_IMAGES.noPorts);
    const ip = await addressOf(h, id);
    const form = await h.http.post('/v1/check-in').set('X-Forwarded-For', ip).type('form').send({ active: '2' });
    expect(form.status).toBe(200);
    expect((await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body.active).toBe('2');
    const json = await h.http.post('/v1/check-in').set('X-Forwarded-For', ip).send({ 'active-connections': 7 });
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

  it('credits the sending container, never the one a forged X-Forwarded-For names, when the peer is not a proxy', async () => {
    const { container_id: sender } = await createIn(h, TEST_IMAGES.noPorts);
    const { container_id: victim } = await createIn(h, TEST_IMAGES.noPorts);
    const output = await checkInFromInside(h, sender, 'active=6', `X-Forwarded-For: ${await addressOf(h, victim)}`);
    expect(output).toContain('exit=0');
    expect(await activeOf(h, sender)).toBe('6');
    expect(await activeOf(h, victim)).toBe('0');
  });

  it('needs no credentials', async () => {
    const { container_id: id } = await createIn(h, TEST_IMAGES.noPorts);
    const res = await h.http
      .post('/v1/check-in')
      .set('X-Forwarded-For', await addressOf(h, id))
      .type('form')
      .send({ active: '1' });
    expect(res.status).toBe(200);
  });
});
