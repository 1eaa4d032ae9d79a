import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { firstBytesOnce, holdOpen, keepsPassing } from '../support/net.js';

/** The idle pass every second, so that checks fall due as the short intervals say. */
const PASSES = { SD_ACTIVITY_SAMPLE_INTERVAL: '1' };

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function create(harness: Harness, image: string) {
  const res = await harness.http
    .post('/v1/containers')
    .auth(...harness.auth)
    .type('form')
    .send({ image });
  expect(res.status).toBe(201);
  return res.body as { container_id: string; app_port: string; next_check_at: string | null };
}

const statusOf = async (harness: Harness, id: string) => (await harness.http.get(`/v1/containers/${id}`).auth(...harness.auth)).body.status as string;
const runningInDocker = async (harness: Harness, id: string) => (await harness.docker.getContainer(id).inspect()).State.Running;

describe('activity monitoring', () => {
  it('stops a silent container after the initial interval plus one interval', async () => {
    h = await startHarness({ ...PASSES, SD_INITIAL_TIMEOUT_INTERVAL: '2', SD_TIMEOUT_INTERVAL: '2' });
    const harness = h;
    const started = Date.now();
    const { container_id: id } = await create(harness, TEST_IMAGES.fast);
    await expect.poll(() => statusOf(harness, id), { timeout: 20_000, interval: 200 }).toBe('stopped');
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
    expect(await runningInDocker(harness, id)).toBe(false);
  });

  it('keeps a container up while it reports activity', async () => {
    // The first check 4 s after the start: time for the app to listen and the connection to be reported first,
    // even on a slow machine (a nested engine).
    h = await startHarness({ ...PASSES, SD_INITIAL_TIMEOUT_INTERVAL: '4', SD_TIMEOUT_INTERVAL: '3' });
    const harness = h;
    const { container_id: id, app_port } = await create(harness, TEST_IMAGES.fast);
    let socket: Socket | undefined;
    try {
      // The app must be listening first: a connection the port proxy accepts before that is dropped at once.
      expect(await firstBytesOnce(app_port, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP/);
      socket = await holdOpen(app_port);
      await expect.poll(async () => (await harness.http.get(`/v1/containers/${id}`).auth(...harness.auth)).body.active, { timeout: 10_000 }).toBe('1');
      // The first checks fall due in this window (at 4 s, 7 s and 10 s); every one must find it active.
      await keepsPassing(8_000, async () => {
        expect(await statusOf(harness, id)).toBe('running');
      });
      expect(await runningInDocker(harness, id)).toBe(true);
    } finally {
      socket?.destroy();
    }
    // Once the connection closes it reports 0 and is stopped within two more checks.
    await expect.poll(() => statusOf(harness, id), { timeout: 20_000, interval: 200 }).toBe('stopped');
  });

  it('with SD_DISABLE_TIMEOUTS=true never stops a silent container', async () => {
    h = await startHarness({ ...PASSES, SD_DISABLE_TIMEOUTS: 'true', SD_INITIAL_TIMEOUT_INTERVAL: '1', SD_TIMEOUT_INTERVAL: '1' });
    const harness = h;
    const { container_id: id, next_check_at } = await create(harness, TEST_IMAGES.noPorts);
    expect(next_check_at).toBeNull();
    await keepsPassing(4_000, async () => {
      expect(await statusOf(harness, id)).toBe('running');
    });
    expect(await runningInDocker(harness, id)).toBe(true);
  });
});
