import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { documentedBy } from '../support/openapi.js';
import { waitUntil } from '../support/wait.js';

/** GET /v1/openapi.json is a valid OpenAPI 3.1 document, and the server's real answers are what it says. */
const run = promisify(execFile);
let h: Harness;
let doc: Parameters<typeof documentedBy>[0] & { openapi: string; paths: Record<string, Record<string, unknown>> };
let check: ReturnType<typeof documentedBy>;

beforeAll(async () => {
  h = await startHarness();
  const res = await h.http.get('/v1/openapi.json');
  expect(res.status).toBe(200);
  doc = res.body as typeof doc;
  check = documentedBy(doc);
});
afterAll(async () => {
  await h?.close();
});

describe('the OpenAPI document', () => {
  it("is valid OpenAPI 3.1, public, and generated from the schemas (the create body is the validator's)", async () => {
    const result = await new Validator().validate(doc as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    const create = (
      doc.paths['/v1/containers']?.post as unknown as {
        requestBody: {
          content: Record<string, { schema: { properties: Record<string, { pattern?: string }>; required: string[]; additionalProperties: boolean } }>;
        };
      }
    ).requestBody.content['application/json']?.schema;
    expect(Object.keys(create?.properties ?? {}).sort()).toEqual(['delete_after', 'env', 'image', 'ssh_key', 'stop_after', 'wake']);
    expect(create?.required).toEqual(['image']);
    expect(create?.additionalProperties).toBe(false);
    expect(create?.properties.image?.pattern).toMatch(/^\^/);
  });

  it('names every operation (generated clients name their methods after it), each once', () => {
    const operations = Object.values(doc.paths).flatMap((item) =>
      Object.entries(item)
        .filter(([key]) => key !== 'parameters')
        .map(([, operation]) => (operation as { operationId?: string }).operationId),
    );
    expect(operations.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(operations).size).toBe(operations.length);
  });

  it('documents every route the server has', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((key) => key !== 'parameters')
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(
      [
        'GET /v1/containers',
        'POST /v1/containers',
        'POST /v1/containers/audit',
        'GET /v1/containers/{id}',
        'PATCH /v1/containers/{id}',
        'DELETE /v1/containers/{id}',
        'GET /v1/containers/{id}/logs',
        'GET /v1/images',
        'POST /v1/images',
        'GET /v1/images/pulls/{pull_id}',
        'DELETE /v1/images/{reference}',
        'GET /v1/events',
        'POST /v1/check-in',
        'GET /v1/openapi.json',
        'GET /healthz',
        'GET /metrics',
      ].sort(),
    );
  });

  it('serves an interactive reference at /docs from this server, with no CDN', async () => {
    const page = await h.http.get('/docs');
    expect(page.status).toBe(200);
    expect(page.text).not.toMatch(/https?:\/\//);
    const scripts = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(scripts).toEqual(['/docs/assets/swagger-ui.css', '/docs/assets/swagger-ui-bundle.js', '/docs/init.js']);
    for (const asset of scripts) {
      const res = await h.http.get(asset);
      expect(res.status, asset).toBe(200);
      expect(Number(res.headers['content-length'] ?? res.text?.length ?? 0)).toBeGreaterThan(20);
    }
    expect((await h.http.get('/docs/init.js')).text).toMatch(/\/v1\/openapi\.json/);
  });
});

describe('real answers match the documented schemas', () => {
  it('containers: create, get, list, patch, logs, delete, and their errors', async () => {
    const created = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: TEST_IMAGES.demo, env: { A: '1' } });
    check('POST', '/v1/containers', created, 201);
    const id = created.body.container_id as string;
    check('GET', '/v1/containers/{id}', await h.http.get(`/v1/containers/${id.slice(0, 12)}`).auth(...h.auth), 200);
    check('GET', '/v1/containers', await h.http.get('/v1/containers').auth(...h.auth), 200);
    check('GET', '/v1/containers', await h.http.get('/v1/containers?audit=true').auth(...h.auth), 200);
    check('GET', '/v1/containers/{id}/logs', await h.http.get(`/v1/containers/${id}/logs?tail=5`).auth(...h.auth), 200);
    check(
      'PATCH',
      '/v1/containers/{id}',
      await h.http
        .patch(`/v1/containers/${id}`)
        .auth(...h.auth)
        .send({ status: 'stopped' }),
      200,
    );
    // Started again once the worker has stopped it (while it is stopping, a start is a 409).
    await expect.poll(async () => (await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body.status, { timeout: 20_000 }).toBe('stopped');
    check(
      'PATCH',
      '/v1/containers/{id}',
      await h.http
        .patch(`/v1/containers/${id}`)
        .auth(...h.auth)
        .send({ status: 'running' }),
      200,
    );
    check(
      'POST',
      '/v1/containers',
      await h.http
        .post('/v1/containers')
        .auth(...h.auth)
        .send({ image: 'NOT VALID' }),
      400,
    );
    check(
      'POST',
      '/v1/containers',
      await h.http
        .post('/v1/containers')
        .auth(...h.auth)
        .send({ image: TEST_IMAGES.demo, privileged: true }),
      400,
    );
    check('POST', '/v1/containers', await h.http.post('/v1/containers').send({ image: TEST_IMAGES.demo }), 401);
    check('GET', '/v1/containers/{id}', await h.http.get(`/v1/containers/${'f'.repeat(64)}`).auth(...h.auth), 404);
    check('DELETE', '/v1/containers/{id}', await h.http.delete(`/v1/containers/${id}`).auth(...h.auth), 204);
  });

  it('images: list, a pull and its object, an image already present, a delete of an unknown image', async () => {
    check('GET', '/v1/images', await h.http.get('/v1/images').auth(...h.auth), 200);
    const pull = await h.http
      .post('/v1/images')
      .auth(...h.auth)
      .send({ image: '127.0.0.1:1/nothing-here:1' });
    check('POST', '/v1/images', pull, 202);
    const failed = await waitUntil(
      'the pull fails',
      async () => {
        const res = await h.http.get(pull.headers.location as string).auth(...h.auth);
        return res.body.status === 'failed' ? res : undefined;
      },
      30_000,
    );
    check('GET', '/v1/images/pulls/{pull_id}', failed, 200);
    check(
      'POST',
      '/v1/images',
      await h.http
        .post('/v1/images')
        .auth(...h.auth)
        .send({ image: TEST_IMAGES.demo }),
      200,
    );
    check('DELETE', '/v1/images/{reference}', await h.http.delete(`/v1/images/${encodeURIComponent('spin-docker-test/none:1')}`).auth(...h.auth), 404);
  });

  it('a check-in from a container, events, health', async () => {
    const created = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: TEST_IMAGES.demo });
    const id = created.body.container_id as string;
    const { stdout } = await run('docker', [
      'exec',
      id,
      'sh',
      '-c',
      'wget -q -O- --header "Authorization: Bearer $SD_CHECKIN_TOKEN" --post-data "active-connections=2" "$SD_CHECKIN_URL"',
    ]);
    expect(JSON.parse(stdout)).toEqual({ message: 'Checked in', active: '2', stop_at: null });
    check('POST', '/v1/check-in', Object.assign(await h.http.post('/v1/check-in').send({ 'active-connections': 'x' }), {}), 400);
    check(
      'GET',
      '/v1/events',
      await h.http
        .get('/v1/events')
        .auth(...h.auth)
        .set('Last-Event-ID', 'nope'),
      400,
    );
    check('GET', '/healthz', await h.http.get('/healthz'), 200);
  });
});
