import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function create(): Promise<string> {
  const res = await h.http
    .post('/v1/containers')
    .auth(...h.auth)
    .type('form')
    .send({ image: TEST_IMAGES.noPorts });
  expect(res.status).toBe(201);
  return res.body.container_id as string;
}

/**
 * The API writes `stopping` / `deleting` and then queues the job; a crash between the two, or a queue write
 * lost with Redis, must not leave a record stuck. The worker's resume pass re-queues what is unfinished.
 */
describe('resuming unfinished work', () => {
  it('finishes a stop and a delete whose jobs were never queued', async () => {
    const stopId = await create();
    const deleteId = await create();
    // What a crashed API leaves behind: the new status, no job.
    await h.api.store.transition(stopId, { from: ['running'] }, { status: 'stopping', nextCheckAt: null });
    await h.api.store.transition(deleteId, {}, { status: 'deleting', nextCheckAt: null });

    const counts = await h.worker.consistency.resumeUnfinished();
    expect(counts).toMatchObject({ stops: 1, deletes: 1 });

    await expect.poll(async () => (await h.api.store.get(stopId))?.status, { timeout: 20_000 }).toBe('stopped');
    expect((await h.docker.getContainer(stopId).inspect()).State.Running).toBe(false);
    await expect.poll(() => h.api.store.get(deleteId), { timeout: 20_000 }).toBeNull();
    await expect(h.docker.getContainer(deleteId).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});
