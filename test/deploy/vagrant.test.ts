import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsRequest } from '../support/https.js';
import { freePort } from '../support/net.js';
import { waitUntil } from '../support/wait.js';

/**
 * `vagrant up --provider=docker` as a Linux user without a hypervisor runs it: the guest is a container of this
 * machine's engine (Debian 12, systemd, SSH), provisioned by the same ansible_local playbook, reached through
 * the forwarded ports. Then `vagrant provision` with a changed setting, `vagrant halt` + `up` keeping the
 * records, and `vagrant destroy -f` leaving nothing behind. `npm run test:deploy`; many minutes (apt, npm and
 * a Docker engine inside the guest).
 */
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'sd-vagrant-'));
const project = join(work, 'spin-docker');
const PASSWORD = 'vagrant-test-password';
let httpPort = 0;
let httpsPort = 0;
/** The guest's certificate (self-signed by the playbook), the one authority the test trusts for it. */
let guestCa = '';
let up = false;
const before = { containers: '', volumes: '', base: false };

/**
 * The repository as a clone has it (tracked files only), and nothing else: the Vagrantfile itself hands the
 * guest this machine's npm registry and added certificate authorities (a TLS-inspecting proxy's), as a new
 * user's `vagrant up` needs.
 */
function copyProject(): void {
  const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    mkdirSync(join(project, file, '..'), { recursive: true });
    if (existsSync(file)) cpSync(file, join(project, file));
  }
}

const env = (vars: Record<string, unknown> = {}) => ({
  ...process.env,
  VAGRANT_CWD: project,
  VAGRANT_DEFAULT_PROVIDER: 'docker',
  SD_PASSWORD: PASSWORD,
  SD_VAGRANT_HTTP_PORT: String(httpPort),
  SD_VAGRANT_HTTPS_PORT: String(httpsPort),
  FORWARD_DOCKER_PORTS: 'true',
  DOCKER_PORTS_FIRST: '20000',
  DOCKER_PORTS_LAST: '20031',
  // The demo image only: the whole kit is the provisioning test's (here it would add minutes of apt in the guest).
  SD_ANSIBLE_EXTRA_VARS: JSON.stringify({ sd_images: ['demo'], ...vars }),
});

async function vagrant(args: string[], vars: Record<string, unknown> = {}): Promise<string> {
  try {
    const { stdout } = await run('vagrant', [...args, '--no-color'], { env: env(vars), maxBuffer: 64 * 1024 * 1024, timeout: 1_800_000 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`vagrant ${args.join(' ')} failed: ${e.message}\n${(e.stdout ?? '').slice(-4000)}\n${(e.stderr ?? '').slice(-4000)}`);
  }
}

const api = async (method: string, path: string, body?: unknown, password = PASSWORD) => {
  const answer = await httpsRequest(`https://127.0.0.1:${httpsPort}${path}`, {
    ca: guestCa,
    method,
    headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    timeoutMs: 10_000,
  });
  return { status: answer.status, json: async () => JSON.parse(answer.text) as unknown };
};
const docker = async (...args: string[]) => (await run('docker', args)).stdout.trim();
const exists = (image: string) =>
  docker('image', 'inspect', image).then(
    () => true,
    () => false,
  );
/** What the docker provider makes: its container (labelled), volumes, and the base image (the guest's own image is checked by id). */
const snapshot = async () => ({
  containers: await docker('ps', '-aq', '--filter', 'label=io.spin-docker.vagrant'),
  volumes: (await docker('volume', 'ls', '-q')).split('\n').sort().join(' '),
  base: await exists('spin-docker/vagrant-base:bookworm'),
});

beforeAll(async () => {
  httpPort = await freePort();
  httpsPort = await freePort();
  copyProject();
  Object.assign(before, await snapshot());
});

afterAll(async () => {
  if (up) await vagrant(['destroy', '-f']).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

describe('vagrant up --provider=docker', () => {
  let containerId = '';

  it('boots the guest, provisions it, and serves the API through the forwarded port', async () => {
    const started = Date.now();
    await vagrant(['up', '--provider=docker']);
    up = true;
    process.stdout.write(`vagrant up --provider=docker took ${Math.round((Date.now() - started) / 1000)} s\n`);
    guestCa = await vagrant(['ssh', '-c', 'sudo cat /etc/spin-docker/tls/server.crt']);
    // Plain HTTP on the forwarded port redirects to HTTPS on the other forwarded port.
    const plain = await fetch(`http://127.0.0.1:${httpPort}/v1/containers`, { redirect: 'manual' });
    expect([plain.status, plain.headers.get('location')]).toEqual([301, `https://127.0.0.1:${httpsPort}/v1/containers`]);
    const res = await waitUntil(
      'the API',
      async () => ((await api('GET', '/v1/containers').catch(() => undefined))?.status === 200 ? true : undefined),
      120_000,
    );
    expect(res).toBe(true);
    expect((await api('GET', '/healthz').then((r) => r.json())) as object).toMatchObject({ status: 'ok', redis: 'ok', docker: 'ok' });
    expect((await api('GET', '/v1/containers', undefined, 'wrong-password')).status).toBe(401);
  });

  it('starts a demo container whose forwarded app port answers from this machine', async () => {
    const res = await api('POST', '/v1/containers', { image: 'spin-docker/demo' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { container_id: string; app_port: string };
    containerId = body.container_id;
    const port = Number(body.app_port);
    expect(port).toBeGreaterThanOrEqual(20000);
    expect(port).toBeLessThanOrEqual(32799);
    const page = await waitUntil(
      'the demo page',
      async () => {
        const answer = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
        return answer?.ok ? answer.text() : undefined;
      },
      60_000,
    );
    expect(page).toMatch(/spin-docker/i);
  });

  it('vagrant provision with a changed setting restarts the services with it', async () => {
    const since = await vagrant(['ssh', '-c', 'systemctl show -p ActiveEnterTimestampMonotonic --value spin-docker-api']);
    await vagrant(['provision'], { sd_timeout_interval: 901 });
    expect(await vagrant(['ssh', '-c', 'sudo cat /etc/spin-docker/spin-docker.env'])).toContain('SD_TIMEOUT_INTERVAL=901');
    const now = await vagrant(['ssh', '-c', 'systemctl show -p ActiveEnterTimestampMonotonic --value spin-docker-api']);
    expect(Number(now.trim())).toBeGreaterThan(Number(since.trim()));
    await waitUntil(
      'the API after the restart',
      async () => ((await api('GET', '/v1/containers').catch(() => undefined))?.status === 200 ? true : undefined),
      60_000,
    );
  });

  it('vagrant halt, then vagrant up, keeps the records', async () => {
    await vagrant(['halt']);
    expect(await docker('ps', '-q', '--filter', 'label=io.spin-docker.vagrant')).toBe('');
    await vagrant(['up', '--provider=docker']);
    const res = await waitUntil(
      'the API again',
      async () => {
        const answer = await api('GET', `/v1/containers/${containerId}`).catch(() => undefined);
        return answer?.status === 200 ? answer : undefined;
      },
      180_000,
    );
    expect(((await res.json()) as { container_id: string }).container_id).toBe(containerId);
  });

  it('vagrant destroy -f leaves no container, no image and no volume behind', async () => {
    // The image Vagrant built for the guest, as Vagrant itself recorded it.
    const built = readFileSync(join(project, '.vagrant', 'machines', 'default', 'docker', 'docker_build_image'), 'utf8').trim();
    expect(await exists(built)).toBe(true);
    expect(await exists('spin-docker/vagrant-base:bookworm')).toBe(true);
    await vagrant(['destroy', '-f']);
    up = false;
    expect(await exists(built)).toBe(false);
    expect(await snapshot()).toEqual(before);
  });
});
