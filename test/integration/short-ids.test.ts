import { aRecord } from '../fakes/engine.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerRecord } from '../../src/domain/containers/record.js';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';

/** Every <id> in a path also takes a unique prefix of at least 4 hex characters, as Docker does. */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({}, { worker: false });
});
afterAll(async () => {
  await h?.close();
});

const record = (id: string): ContainerRecord =>
  aRecord(id, { name: `/short-${id.slice(0, 8)}`, image: TEST_IMAGES.noPorts, status: 'stopped', createdAt: Date.now() });

describe('short container ids', () => {
  it('answers for a unique prefix with the full id, on GET, PATCH and DELETE', async () => {
    const created = await h.http
      .post('/v1/containers')
      .auth(...h.auth)
      .send({ image: TEST_IMAGES.noPorts });
    const id = created.body.container_id as string;
    const got = await h.http.get(`/v1/containers/${id.slice(0, 12)}`).auth(...h.auth);
    expect(got.status).toBe(200);
    expect(got.body.container_id).toBe(id);
    const stopping = await h.http
      .patch(`/v1/containers/${id.slice(0, 6)}`)
      .auth(...h.auth)
      .send({ status: 'stopped' });
    expect(stopping.status).toBe(200);
    expect(stopping.body).toMatchObject({ container_id: id, status: 'stopping' });
    expect((await h.http.delete(`/v1/containers/${id.slice(0, 10)}`).auth(...h.auth)).status).toBe(204);
    expect((await h.api.store.get(id))?.status).toBe('deleting');
  });

  it('refuses an ambiguous prefix with 400, and a short, non-hex or unknown one with 404', async () => {
    const [a, b] = ['abcd1', 'abcd2'].map((start) => start + '0'.repeat(64 - start.length)) as [string, string];
    await h.api.store.insert(record(a));
    await h.api.store.insert(record(b));
    try {
      const ambiguous = await h.http.get('/v1/containers/abcd').auth(...h.auth);
      expect(ambiguous.status).toBe(400);
      expect(ambiguous.body.code).toBe('ambiguous_id');
      expect((await h.http.get('/v1/containers/abcd2').auth(...h.auth)).body.container_id).toBe(b);
      for (const bad of ['abc', 'zzzz', 'ABCD1', 'ffff0000', `${a}0`]) {
        const res = await h.http.get(`/v1/containers/${bad}`).auth(...h.auth);
        expect(res.status).toBe(404);
        expect(res.body.code).toBe('container_not_found');
      }
    } finally {
      await h.api.store.remove(a);
      await h.api.store.remove(b);
    }
  });
});
