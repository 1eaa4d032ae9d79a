import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { firstBytesOnce, holdOpen, keepsPassing } from '../support/net.js';

/**
 * Observed activity: the worker counts each container's client connections from the host (/proc/<pid>/net),
 * so an image that never reports stays up while someone is connected. Real containers, short intervals:
 * samples every second, the first check 4 s after the start, then one every 3 s.
 */
const run = promisify(execFile);
const FAST = { SD_ACTIVITY_SAMPLE_INTERVAL: '1', SD_INITIAL_TIMEOUT_INTERVAL: '4', SD_TIMEOUT_INTERVAL: '3' };

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function create(harness: Harness, image: string) {
  const res = await harness.http
    .post('/v1/containers')
    .auth(...harness.auth)
    .send({ image });
  expect(res.status).toBe(201);
  return res.body as Record<string, string>;
}

const objectOf = async (harness: Harness, id: string) =>
  (await harness.http.get(`/v1/containers/${id}`).auth(...harness.auth)).body as Record<string, string | null>;

/** Waits until the app inside listens (a connection the port proxy takes before that is dropped), then holds one open. */
async function connect(port: string): Promise<Socket> {
  expect(await firstBytesOnce(port, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP/);
  return holdOpen(port);
}

describe('observed activity (SD_ACTIVITY_SOURCES=observed,reported, the default)', () => {
  it('keeps an image with no reporter up while a client holds an idle connection, and stops it once it closes', async () => {
    h = await startHarness(FAST);
    const harness = h;
    const { container_id: id, app_port: port } = await create(harness, TEST_IMAGES.httpd);
    const socket = await connect(port as string);
    try {
      await expect.poll(async () => (await objectOf(harness, id as string)).connections, { timeout: 10_000, interval: 200 }).toBe('1');
      const seen = await objectOf(harness, id as string);
      expect(seen).toMatchObject({ activity_source: 'observed', active: '0', last_check_in: null });
      expect(Date.parse(seen.last_activity_at as string)).toBeGreaterThan(Date.now() - 10_000);
      // Checks fall due at 4, 7 and 10 s after the start: the connection sends nothing, and every one finds it active.
      await keepsPassing(9_000, async () => {
        expect((await objectOf(harness, id as string)).status).toBe('running');
      });
    } finally {
      socket.destroy();
    }
    // Closed: the next sample sees nobody, and it is stopped at a final look, as a silent container is.
    await expect.poll(async () => (await objectOf(harness, id as string)).connections, { timeout: 10_000, interval: 200 }).toBe('0');
    await expect.poll(async () => (await objectOf(harness, id as string)).status, { timeout: 20_000, interval: 250 }).toBe('stopped');
    expect((await objectOf(harness, id as string)).connections).toBe('');
    expect((await harness.http.get('/healthz')).body.activity).toBe('observed');
  });

  it('does not count a connection the container opens to its own port from inside', async () => {
    h = await startHarness(FAST);
    const harness = h;
    const { container_id: id, app_port: port } = await create(harness, TEST_IMAGES.httpd);
    expect(await firstBytesOnce(port as string, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP/);
    // A helper inside the container keeps a connection to 127.0.0.1:80 open.
    await run('docker', ['exec', '-d', id as string, 'sh', '-c', 'sleep 60 | nc 127.0.0.1 80']);
    const { stdout } = await run('docker', ['exec', id as string, 'sh', '-c', 'sleep 1; netstat -tn | grep -c ESTABLISHED']);
    expect(Number(stdout.trim())).toBeGreaterThanOrEqual(2); // both ends of it, inside
    await expect.poll(async () => (await objectOf(harness, id as string)).status, { timeout: 20_000, interval: 250 }).toBe('stopped');
  });

  it('still honours check-ins: a reporting image stays up by its reports alone', async () => {
    h = await startHarness(FAST);
    const harness = h;
    const { container_id: id, app_port: port } = await create(harness, TEST_IMAGES.fast);
    const socket = await connect(port as string);
    try {
      await expect.poll(async () => (await objectOf(harness, id as string)).active, { timeout: 10_000, interval: 200 }).toBe('1');
      await keepsPassing(6_000, async () => {
        expect((await objectOf(harness, id as string)).status).toBe('running');
      });
    } finally {
      socket.destroy();
    }
  });
});

describe('SD_ACTIVITY_SOURCES=reported (the original behaviour)', () => {
  it('stops a connected container that does not report on schedule, and samples nothing', async () => {
    h = await startHarness({ ...FAST, SD_ACTIVITY_SOURCES: 'reported' });
    const harness = h;
    const { container_id: id, app_port: port } = await create(harness, TEST_IMAGES.httpd);
    const socket = await connect(port as string);
    try {
      await expect.poll(async () => (await objectOf(harness, id as string)).status, { timeout: 20_000, interval: 250 }).toBe('stopped');
      expect(await objectOf(harness, id as string)).toMatchObject({ connections: '', last_activity_at: null, activity_source: null });
      expect((await harness.http.get('/healthz')).body.activity).toBe('reported-only');
    } finally {
      socket.destroy();
    }
  });
});

describe('observation unavailable (SD_PROC_ROOT names an empty folder)', () => {
  it('says reported-only, never stops a container for a failed sample, and check-ins still keep one alive', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'sd-noproc-'));
    try {
      h = await startHarness({ ...FAST, SD_PROC_ROOT: empty, SD_LOG_LEVEL: 'warn' });
      const harness = h;
      await expect.poll(async () => (await harness.http.get('/healthz')).body.activity, { timeout: 15_000, interval: 250 }).toBe('reported-only');
      const { container_id: id, app_port: port } = await create(harness, TEST_IMAGES.fast);
      const socket = await connect(port as string);
      try {
        await expect.poll(async () => (await objectOf(harness, id as string)).active, { timeout: 10_000, interval: 200 }).toBe('1');
        await keepsPassing(6_000, async () => {
          expect((await objectOf(harness, id as string)).status).toBe('running');
        });
        expect((await objectOf(harness, id as string)).connections).toBe('');
      } finally {
        socket.destroy();
      }
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('the worker says once in its log why observation is off', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'sd-noproc-'));
    try {
      const worker = spawn(process.execPath, ['dist/worker/main.js'], {
        env: {
          PATH: process.env.PATH,
          REDIS_URL: process.env.TEST_REDIS_URL,
          SD_INSTANCE: `test-noproc-${process.pid}`,
          SD_PROC_ROOT: empty,
          SD_ACTIVITY_SAMPLE_INTERVAL: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      worker.stdout.on('data', (d: Buffer) => (output += d.toString()));
      await expect.poll(() => output, { timeout: 15_000, interval: 100 }).toContain('activity observation is off');
      await new Promise((resolve) => setTimeout(resolve, 2500));
      worker.kill('SIGTERM');
      await new Promise((resolve) => worker.once('exit', resolve));
      expect(output.match(/activity observation is off/g)).toHaveLength(1);
      expect(output).toContain('SD_PROC_ROOT must name the host');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
