import { expect } from 'vitest';
import { aRecord } from '../fakes/engine.js';
import type { ContainerRecord } from '../../src/domain/containers/record.js';
import type { Harness } from './harness.js';
import { TEST_IMAGES } from './images.js';

/** Creates a container through the harness's API, insisting on a 201, and returns its id. */
export async function create(harness: Harness, image: string = TEST_IMAGES.demo, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await harness.http
    .post('/v1/containers')
    .auth(...harness.auth)
    .send({ image, ...extra });
  expect(res.status).toBe(201);
  return res.body.container_id as string;
}

/** A record with no container behind it, for tests that write the store directly. */
export const record = (id: string): ContainerRecord => aRecord(id, { name: `/forged-${id.slice(0, 6)}`, image: TEST_IMAGES.noPorts, createdAt: Date.now() });
