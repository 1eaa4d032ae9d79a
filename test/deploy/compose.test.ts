import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBaseImages, NODE_IMAGE, REDIS_IMAGE } from '../support/app-image.js';
import { waitUntil } from '../support/wait.js';
import { freePort } from '../support/net.js';

/**
 * `docker compose up` for real, on this machine's engine. No registry is reachable here, so the two base
 * images are made locally (test/support/app-image.ts). The stack is then built and run exactly as
 * docker-compose.yml says.
 */
const run = promisify(execFile);
const suffix = randomBytes(3).toString('hex');
const project = `sd-compose-${suffix}`;
const instance = `compose-${suffix}`;
const PASSWORD = 'compose-test-password';
let port = 0;

const composeEnv = () => ({
  ...process.env,
  NODE_IMAGE,
  REDIS_IMAGE,
  SD_IMAGE: `spin-docker-test/app:${suffix}`,
  SD_INSTANCE: instance,
  SD_PASSWORD: PASSWORD,
  SD_PORT: String(port),
  SD_PUBLISH: String(port),
  DOCKER_GID: String(statSync('/var/run/docker.sock').gid),
});
const compose = (...args: string[]) => run('docker-compose', ['-p', project, ...args], { env: composeEnv(), maxBuffer: 64 * 1024 * 1024 });

async function api(method: string, path: string, body?: Record<string, string>) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as Record<string, string> };
}

const containerOf = async (service: string) => (await compose('ps', '-q', service)).stdout.trim();
const health = async (service: string) => (await run('docker', ['inspect', '-f', '{{.State.Health.Status}}', await containerOf(service)])).stdout.trim();

beforeAll(async () => {
  await makeBaseImages();
  await run('bash', ['images/build.sh', 'demo']);
  port = await freePort();
  await compose('up', '-d', '--build');
}, 900_000);

afterAll(async () => {
  await compose('down', '-v', '--timeout', '30').catch(() => undefined);
  const managed = (await run('docker', ['ps', '-aq', '--filter', `label=io.spin-docker.instance=${instance}`])).stdout.split('\n').filter(Boolean);
  if (managed.length > 0) await run('docker', ['rm', '-f', ...managed]).catch(() => undefined);
  await run('docker', ['rmi', `spin-docker-test/app:${suffix}`]).catch(() => undefined);
});

describe('docker compose up, with base images made locally', () => {
  it('brings Redis, the API and the worker up healthy; a demo container starts and checks in with its token', async () => {
    for (const service of ['redis', 'api', 'worker']) {
      await waitUntil(`${service} to be healthy`, async () => ((await health(service)) === 'healthy' ? true : undefined), 120_000);
    }
    expect((await api('GET', '/healthz')).body).toEqual({ status: 'ok', redis: 'ok', docker: 'ok', worker: 'ok', activity: 'observed' });
    expect((await run('docker', ['exec', await containerOf('redis'), 'redis-cli', 'config', 'get', 'appendonly'])).stdout).toMatch(/yes/);

    const created = await api('POST', '/v1/containers', { image: 'spin-docker/demo' });
    expect(created.status).toBe(201);
    const id = created.body.container_id as string;
    const page = await fetch(`http://127.0.0.1:${created.body.app_port}/`, { signal: AbortSignal.timeout(10_000) });
    expect(page.status).toBe(200);
    await waitUntil('the demo to check in', async () => ((await api('GET', `/v1/containers/${id}`)).body.last_check_in ? true : undefined), 60_000);
  });

  it("tells a container's failed logins from the host's: ten from inside a container lock out that container, not the host's CLI", async () => {
    const [created] = (await api('GET', '/v1/containers')).body as unknown as { container_id: string }[];
    const id = created?.container_id as string;
    const bad = Buffer.from('admin:wrong-password').toString('base64');
    const script = `base=\${SD_CHECKIN_URL%/v1/check-in}; for i in $(seq 12); do wget -q -O /dev/null --header "Authorization: Basic ${bad}" "$base/v1/images"; done; wget -S -O /dev/null --header "Authorization: Basic ${bad}" "$base/v1/images" 2>&1 | grep 'HTTP/'`;
    const { stdout } = await run('docker', ['exec', id, 'sh', '-c', script]).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    expect(stdout).toMatch(/429/);
    // The host's own client is another address (loopback), as the API in the host's network sees it.
    expect((await api('GET', '/v1/containers')).status).toBe(200);
  });

  it('stops gracefully (exit 0) and keeps the records in the Redis volume across a restart', async () => {
    const before = (await api('GET', '/v1/containers')).body as unknown as { container_id: string }[];
    expect(before.length).toBe(1);
    const ids = await Promise.all(['api', 'worker'].map(containerOf));
    await compose('stop', '--timeout', '45');
    for (const container of ids) {
      expect((await run('docker', ['inspect', '-f', '{{.State.ExitCode}}', container])).stdout.trim()).toBe('0');
    }
    await compose('up', '-d');
    await waitUntil('the API to come back', async () => ((await api('GET', '/v1/containers')).status === 200 ? true : undefined), 120_000);
    const after = (await api('GET', '/v1/containers')).body as unknown as { container_id: string }[];
    expect(after.map((c) => c.container_id)).toEqual(before.map((c) => c.container_id));
  });
});
