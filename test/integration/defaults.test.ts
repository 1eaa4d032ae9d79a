import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';

/**
 * Safe unless the admin says otherwise: the default password's reach, the one client header believed behind a
 * proxy, the containers' network of their own, and the limits on what one installation holds.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function create(harness: Harness, image: string = TEST_IMAGES.demo): Promise<string> {
  const res = await harness.http
    .post('/v1/containers')
    .auth(...harness.auth)
    .send({ image });
  expect(res.status).toBe(201);
  return res.body.container_id as string;
}

/** Runs a shell command in a container; its output and exit status. */
async function shell(harness: Harness, id: string, command: string): Promise<string> {
  const exec = await harness.docker.getContainer(id).exec({ Cmd: ['sh', '-c', `${command} 2>&1; echo " exit=$?"`], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => stream.on('end', resolve));
  // Drop the multiplexing headers: printable text is all that is asserted.
  return Buffer.concat(chunks)
    .toString('latin1')
    .replace(/[^\t\n\r\x20-\x7e]/g, '');
}

const addressOf = async (harness: Harness, id: string) =>
  Object.values((await harness.docker.getContainer(id).inspect()).NetworkSettings.Networks)[0]?.IPAddress ?? '';

describe('the default password', () => {
  it('serves this host (loopback) and its containers, and refuses every other address with a message naming SD_PASSWORD', async () => {
    const open = await startHarness({ SD_PASSWORD: 'spindocker' });
    try {
      const login: [string, string] = ['admin', 'spindocker'];
      expect((await open.http.get('/v1/images').auth(...login)).status).toBe(200);
      // A client elsewhere, as a trusted proxy (nginx on loopback) names it: refused, with or without credentials.
      for (const request of [open.http.get('/v1/images').auth(...login), open.http.get('/healthz'), open.http.post('/v1/containers').auth(...login)]) {
        const res = await request.set('X-Forwarded-For', '203.0.113.9');
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('default_password');
        expect(res.body.message).toMatch(/SD_PASSWORD/);
      }
      // The containers' own network is this host's: a container there checks in through the gateway.
      const id = await create(open, TEST_IMAGES.noPorts);
      const answer = await shell(open, id, 'wget -q -O - --post-data "active-connections=1" "$SD_CHECKIN_URL"');
      expect(answer).toMatch(/"Checked in".* exit=0/);
      expect((await open.http.get(`/v1/containers/${id}`).auth(...login)).body.active).toBe('1');
    } finally {
      await open.close();
    }
  });

  it('is refused outright in production (the configuration says so)', async () => {
    await expect(startHarness({ SD_PASSWORD: 'spindocker', SD_ENVIRONMENT: 'production' })).rejects.toThrow(/SD_PASSWORD/);
  });
});

describe('the client address behind a proxy', () => {
  it('believes only X-Forwarded-For by default: an X-Real-IP of the client is not an address', async () => {
    const guarded = await startHarness({ SD_LOGIN_MAX_FAILURES: '3', SD_LOGIN_LOCKOUT: '60' });
    try {
      // Before, a client could name itself afresh in X-Real-IP each time and never be locked out.
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1)
        statuses.push((await guarded.http.get('/v1/images').set('X-Real-IP', `198.51.100.${i}`).auth('admin', `guess-${i}`)).status);
      expect(statuses).toEqual([401, 401, 429, 429]);
    } finally {
      await guarded.close();
    }
  });

  it('with SD_PROXY_HEADER=x-real-ip believes X-Real-IP only: a forged X-Forwarded-For is ignored', async () => {
    const guarded = await startHarness({ SD_LOGIN_MAX_FAILURES: '3', SD_LOGIN_LOCKOUT: '60', SD_PROXY_HEADER: 'x-real-ip' });
    try {
      // The proxy sets X-Real-IP to the client it sees and passes the client's own X-Forwarded-For on.
      const as = (forged: string, password: string) =>
        guarded.http.get('/v1/images').set('X-Real-IP', '198.51.100.50').set('X-Forwarded-For', forged).auth('admin', password);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await as(`203.0.113.${i}`, `guess-${i}`)).status);
      expect(statuses).toEqual([401, 401, 429, 429]);
      // Another client, as the proxy names it, is not affected.
      expect(
        (
          await guarded.http
            .get('/v1/images')
            .set('X-Real-IP', '198.51.100.51')
            .auth(...guarded.auth)
        ).status,
      ).toBe(200);
      // A check-in is the container the proxy names, whatever X-Forwarded-For says.
      const id = await create(guarded, TEST_IMAGES.noPorts);
      const ip = await addressOf(guarded, id);
      expect((await guarded.http.post('/v1/check-in').set('X-Real-IP', ip).set('X-Forwarded-For', '10.9.9.9').send({ 'active-connections': 3 })).status).toBe(
        200,
      );
      expect((await guarded.http.post('/v1/check-in').set('X-Real-IP', '10.9.9.9').set('X-Forwarded-For', ip).send({ 'active-connections': 4 })).status).toBe(
        404,
      );
      expect((await guarded.http.get(`/v1/containers/${id}`).auth(...guarded.auth)).body.active).toBe('3');
    } finally {
      await guarded.close();
    }
  });
});

describe("the containers' network", () => {
  it('is a network of the installation with inter-container traffic off: a container reaches another only through its published port', async () => {
    const [a, b] = [await create(h), await create(h)];
    const network = await h.docker.getNetwork('spin-docker').inspect();
    expect(network.Options?.['com.docker.network.bridge.enable_icc']).toBe('false');
    const gateway = network.IPAM?.Config?.[0]?.Gateway as string;
    const target = await h.http.get(`/v1/containers/${b}`).auth(...h.auth);
    // (busybox's own wget -T crashes on a refused connection: the time limit is timeout's.)
    const direct = await shell(h, a, `timeout 3 wget -q -O - http://${await addressOf(h, b)}:80/ >/dev/null`);
    expect(direct).toMatch(/ exit=(143|124)/);
    const published = await shell(h, a, `timeout 5 wget -q -O - http://${gateway}:${target.body.app_port as string}/ >/dev/null`);
    expect(published).toMatch(/ exit=0/);
    // And the API at the gateway, for check-ins.
    expect(await shell(h, a, 'wget -q -O - --post-data "active-connections=2" "$SD_CHECKIN_URL"')).toMatch(/ exit=0/);
  });
});

describe('limits', () => {
  it('SD_MAX_CONTAINERS: a create beyond is a 403 that says the limit, also when creates come at once', async () => {
    const small = await startHarness({ SD_MAX_CONTAINERS: '2' });
    try {
      const answers = await Promise.all(
        Array.from({ length: 4 }, () =>
          small.http
            .post('/v1/containers')
            .auth(...small.auth)
            .send({ image: TEST_IMAGES.noPorts }),
        ),
      );
      expect(answers.map((res) => res.status).sort()).toEqual([201, 201, 403, 403]);
      const refused = answers.find((res) => res.status === 403);
      expect(refused?.body).toMatchObject({ code: 'too_many_containers', message: expect.stringMatching(/at most 2 .*SD_MAX_CONTAINERS/) });
      expect((await small.worker.runtime.listManaged()).length).toBe(2);
      // A delete makes room again.
      const id = answers.find((res) => res.status === 201)?.body.container_id as string;
      expect((await small.http.delete(`/v1/containers/${id}`).auth(...small.auth)).status).toBe(204);
      await expect.poll(async () => (await small.http.get(`/v1/containers/${id}`).auth(...small.auth)).status, { timeout: 20_000 }).toBe(404);
      expect(
        (
          await small.http
            .post('/v1/containers')
            .auth(...small.auth)
            .send({ image: TEST_IMAGES.noPorts })
        ).status,
      ).toBe(201);
    } finally {
      await small.close();
    }
  });
});
