import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { firstBytesOnce } from '../support/net.js';

const EIGHT_FIELDS = ['container_id', 'name', 'image', 'status', 'active', 'ssh_port', 'app_port', 'uri'];

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const create = (image: string) =>
  h.http
    .post('/v1/containers')
    .auth(...h.auth)
    .type('form')
    .send({ image });
const get = (id: string) => h.http.get(`/v1/containers/${id}`).auth(...h.auth);
const patch = (id: string, status: string) =>
  h.http
    .patch(`/v1/containers/${id}`)
    .auth(...h.auth)
    .type('form')
    .send({ status });
const inspect = (id: string) => h.docker.getContainer(id).inspect();

async function statusBecomes(id: string, status: string) {
  await expect.poll(async () => (await get(id)).body.status, { timeout: 20_000, interval: 200 }).toBe(status);
}

describe('POST /v1/containers', () => {
  it('starts a container whose ports really answer, and answers what a GET answers', async () => {
    const res = await create(TEST_IMAGES.demo);
    expect(res.status).toBe(201);
    const body = res.body as Record<string, unknown>;
    for (const field of EIGHT_FIELDS) expect(typeof body[field]).toBe('string');
    expect(body).toMatchObject({ image: TEST_IMAGES.demo, status: 'running', active: '0' });
    expect(body.container_id).toMatch(/^[0-9a-f]{64}$/);
    expect(body.name).toMatch(/^\/\w+/);
    expect(body.uri).toBe(`/v1/containers/${body.container_id}`);
    expect(res.headers.location).toBe(body.uri);
    // Right after, a GET answers the same (the image's own first check-in may already have landed).
    // (and so may the worker's first sample of its connections).
    const sampled = ({ last_check_in: _a, connections: _b, last_activity_at: _c, activity_source: _d, ...rest }: Record<string, unknown>) => rest;
    const fetched = sampled((await get(body.container_id as string)).body as Record<string, unknown>);
    const posted = sampled(body);
    expect(fetched).toEqual(posted);

    const html = await firstBytesOnce(body.app_port as string, 'GET / HTTP/1.0\r\n\r\n');
    expect(html).toMatch(/^HTTP\/1\.[01] 200/);
    expect(await firstBytesOnce(body.ssh_port as string)).toMatch(/^SSH-2\.0-/);

    const info = await inspect(body.container_id as string);
    expect(info.State.Running).toBe(true);
    expect(info.HostConfig.Init).toBe(true);
    expect(info.Config.Labels['io.spin-docker.instance']).toBe(h.instance);
  });

  it('takes the image from a JSON body or the query string too', async () => {
    const json = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: TEST_IMAGES.noPorts });
    expect(json.status).toBe(201);
    const query = await h.http.post(`/v1/containers?image=${TEST_IMAGES.noPorts}`).auth(...h.auth);
    expect(query.status).toBe(201);
  });

  it('runs an image without exposed ports with both ports blank', async () => {
    const res = await create(TEST_IMAGES.noPorts);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ ssh_port: '', app_port: '', status: 'running' });
  });

  it.each([
    ['missing', {}, 'Image cannot be blank'],
    ['blank', { image: '   ' }, 'Image cannot be blank'],
    ['not a reference', { image: 'Not An Image!' }, 'Image is not a valid image reference'],
  ])('refuses an image that is %s with 400', async (_what, body, message) => {
    const before = (await h.http.get('/v1/containers').auth(...h.auth)).body.length;
    const res = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .type('form')
      .send(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message, code: expect.any(String) });
    expect((await h.http.get('/v1/containers').auth(...h.auth)).body.length).toBe(before);
  });

  it('answers 404 for an image the engine does not have', async () => {
    const res = await create('spin-docker-test/no-such-image:1.0');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: 'Image spin-docker-test/no-such-image:1.0 not found on this server', code: 'image_not_found' });
  });

  it('answers 400 for malformed JSON and 413 for a body over 64 KiB', async () => {
    const bad = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .set('Content-Type', 'application/json')
      .send('{"image": ');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_json');
    const huge = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: TEST_IMAGES.demo, pad: 'x'.repeat(70_000) });
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe('body_too_large');
  });

  it('removes a container that was created but could not start, and keeps no record', async () => {
    const before = await h.docker.listContainers({ all: true, filters: { label: [`io.spin-docker.instance=${h.instance}`] } });
    const res = await create(TEST_IMAGES.broken);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.body.message).toMatch(/could not start/i);
    const after = await h.docker.listContainers({ all: true, filters: { label: [`io.spin-docker.instance=${h.instance}`] } });
    expect(after.length).toBe(before.length);
    const listed = (await h.http.get('/v1/containers').auth(...h.auth)).body as { image: string }[];
    expect(listed.some((c) => c.image === TEST_IMAGES.broken)).toBe(false);
  });
});

describe('GET /v1/containers/<id>', () => {
  it('answers 404 for an unknown or malformed id', async () => {
    const unknown = 'a'.repeat(64);
    const res = await get(unknown);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: `Container ${unknown} doesn't exist`, code: 'container_not_found' });
    expect((await get('not-an-id')).status).toBe(404);
    // Found by the fuzz pass: a path that is not valid percent-encoding was a 500.
    const broken = await get('%zz');
    expect(broken.status).toBe(400);
    expect(broken.body.code).toBe('invalid_path');
  });
});

describe('PATCH /v1/containers/<id>', () => {
  it('stops (stopping at once, then stopped in Docker) and starts again on the same ports', async () => {
    const { body: created } = await create(TEST_IMAGES.demo);
    const id = created.container_id as string;

    const stopping = await patch(id, 'stopped');
    expect(stopping.status).toBe(200);
    expect(stopping.body.status).toBe('stopping');
    await statusBecomes(id, 'stopped');
    // Asleep (wake on connect is the default): it keeps its ports, which a connection would wake it on.
    expect((await get(id)).body).toMatchObject({ ssh_port: created.ssh_port, app_port: created.app_port, active: '0', asleep: true, wake_on_connect: true });
    expect((await inspect(id)).State.Running).toBe(false);

    const again = await patch(id, 'stopped');
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('stopped');

    const started = await patch(id, 'running');
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ status: 'running', active: '0', asleep: false, ports: created.ports });
    expect((await inspect(id)).State.Running).toBe(true);
    expect(await firstBytesOnce(started.body.app_port as string, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/200/);

    const unchanged = await patch(id, 'running');
    expect(unchanged.status).toBe(200);
    // The same run: only the demo's own check-in (every 5 s, the first right after the start) and the worker's
    // samples of its connections may differ.
    const { last_check_in: _a, active: _b, connections: _c, last_activity_at: _d, activity_source: _e, ...rest } = started.body as Record<string, unknown>;
    expect(unchanged.body).toMatchObject(rest);
  });

  it('accepts a JSON body', async () => {
    const { body: created } = await create(TEST_IMAGES.noPorts);
    const res = await h.http
      .patch(`/v1/containers/${created.container_id}`)
      .auth(...h.auth)
      .send({ status: 'stopped' });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('stopping');
  });

  it('refuses a bad or missing status with 400 and an unknown id with 404', async () => {
    const { body: created } = await create(TEST_IMAGES.noPorts);
    for (const status of ['paused', '', 'RUNNING']) {
      const res = await patch(created.container_id as string, status);
      expect(res.status).toBe(400);
      expect(res.body.message).toBe("Status must be 'running' or 'stopped'");
    }
    expect((await h.http.patch(`/v1/containers/${created.container_id}`).auth(...h.auth)).status).toBe(400);
    expect((await get(created.container_id as string)).body.status).toBe('running');
    expect((await patch('b'.repeat(64), 'stopped')).status).toBe(404);
  });

  it('answers 409 for running while stopping, and for any change while deleting', async () => {
    const { body: created } = await create(TEST_IMAGES.stubborn);
    const id = created.container_id as string;
    expect((await patch(id, 'stopped')).body.status).toBe('stopping');
    const conflict = await patch(id, 'running');
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe('status_conflict');
    await statusBecomes(id, 'stopped');

    expect((await patch(id, 'running')).status).toBe(200);
    expect((await h.http.delete(`/v1/containers/${id}`).auth(...h.auth)).status).toBe(204);
    expect((await get(id)).body.status).toBe('deleting');
    expect((await patch(id, 'stopped')).status).toBe(409);
    expect((await h.http.delete(`/v1/containers/${id}`).auth(...h.auth)).status).toBe(204);
  });
});

describe('DELETE /v1/containers/<id>', () => {
  it('answers 204, then the worker removes the container and the record', async () => {
    const { body: created } = await create(TEST_IMAGES.demo);
    const id = created.container_id as string;
    const res = await h.http.delete(`/v1/containers/${id}`).auth(...h.auth);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    await expect.poll(async () => (await get(id)).status, { timeout: 20_000, interval: 200 }).toBe(404);
    await expect(inspect(id)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('answers 404 for an unknown id', async () => {
    expect((await h.http.delete(`/v1/containers/${'c'.repeat(64)}`).auth(...h.auth)).status).toBe(404);
  });
});

describe('GET /v1/containers', () => {
  it('lists what this server created, never other containers', async () => {
    const { body: created } = await create(TEST_IMAGES.noPorts);
    const stranger = await h.docker.createContainer({ Image: TEST_IMAGES.noPorts, Labels: { 'io.spin-docker.instance': 'someone-else' } });
    try {
      for (const audit of ['false', 'true']) {
        const res = await h.http.get(`/v1/containers?audit=${audit}`).auth(...h.auth);
        expect(res.status).toBe(200);
        const ids = (res.body as { container_id: string }[]).map((c) => c.container_id);
        expect(ids).toContain(created.container_id);
        expect(ids).not.toContain(stranger.id);
      }
    } finally {
      await stranger.remove({ force: true });
    }
  });

  it('with audit=true re-reads Docker: drops removed containers, follows stops behind its back', async () => {
    // The API alone: with a worker running, its Docker event follower would correct the records first.
    const alone = await startHarness({}, { worker: false });
    try {
      const { body: gone } = await alone.http
        .post('/v1/containers')
        .auth(...alone.auth)
        .send({ image: TEST_IMAGES.noPorts });
      const { body: halted } = await alone.http
        .post('/v1/containers')
        .auth(...alone.auth)
        .send({ image: TEST_IMAGES.demo });
      await alone.docker.getContainer(gone.container_id as string).remove({ force: true });
      await alone.docker.getContainer(halted.container_id as string).stop({ t: 0 });

      const stored = (await alone.http.get('/v1/containers').auth(...alone.auth)).body as { container_id: string; status: string }[];
      expect(stored.map((c) => c.container_id)).toContain(gone.container_id);

      const audited = await alone.http.get('/v1/containers?audit=TRUE').auth(...alone.auth);
      expect(audited.status).toBe(200);
      const byId = new Map((audited.body as { container_id: string }[]).map((c) => [c.container_id, c]));
      expect(byId.has(gone.container_id as string)).toBe(false);
      expect(byId.get(halted.container_id as string)).toMatchObject({ status: 'stopped', app_port: halted.app_port, ssh_port: halted.ssh_port, asleep: true });
      expect((await alone.http.get(`/v1/containers/${gone.container_id as string}`).auth(...alone.auth)).status).toBe(404);
    } finally {
      await alone.close();
    }
  });

  it('refuses an audit value that is not a boolean', async () => {
    const res = await h.http.get('/v1/containers?audit=maybe').auth(...h.auth);
    expect(res.status).toBe(400);
  });
});

describe('GET /healthz', () => {
  it("reports Redis, Docker and the worker's heartbeat, without credentials", async () => {
    const res = await h.http.get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', redis: 'ok', docker: 'ok', worker: 'ok', activity: 'observed' });
  });
});

describe('authentication and routes', () => {
  it('asks for Basic credentials with 401 when they are missing or wrong', async () => {
    for (const req of [h.http.get('/v1/containers'), h.http.get('/v1/images').auth('admin', 'wrong'), h.http.get('/v1/images').auth('root', 'test-password')]) {
      const res = await req;
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="spin-docker"');
      expect(res.body).toEqual({ message: expect.any(String), code: 'unauthorized' });
    }
  });

  it('answers JSON 404 for unknown routes and 405 for wrong methods', async () => {
    expect((await h.http.get('/v1/nothing').auth(...h.auth)).body.code).toBe('route_not_found');
    const res = await h.http.put('/v1/containers').auth(...h.auth);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, POST');
  });
});

describe('GET /v1/images', () => {
  it('lists the tagged images as repository:tag', async () => {
    const res = await h.http.get('/v1/images').auth(...h.auth);
    expect(res.status).toBe(200);
    expect(res.body).toContain('spin-docker/demo:latest');
    expect(res.body).not.toContain('<none>:<none>');
    for (const tag of res.body as string[]) expect(tag).toMatch(/^[^:]+(:\d+\/[^:]+)?:[\w.-]+$/);
  });
});
