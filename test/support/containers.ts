import { expect } from 'vitest';
import { noLifetime } from '../../src/domain/containers/record.js';
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
export function record(id: string): ContainerRecord {
  return {
    id,
    name: `/forged-${id.slice(0, 6)}`,
    image: TEST_IMAGES.noPorts,
    status: 'running',
    active: 0,
    ports: {},
    ip: '',
    node: '',
    startCount: 1,
    wakeOnConnect: false,
    checkinAt: null,
    createdAt: Date.now(),
    nextCheckAt: null,
    strikes: 0,
    tokenHash: '',
    pid: 0,
    connections: null,
    observedAt: null,
    sshKeys: [],
    ...noLifetime,
  };
}
