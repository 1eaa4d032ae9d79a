import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
const LOCAL_CAS = '/usr/local/share/ca-certificates';
let httpPort = 0;
let up = false;
const before = { containers: '', volumes: '', base: false };

/** The repository as a clone has it (tracked files only), with this machine's extra CAs beside it. */
function copyProject(): string[] {
  const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    mkdirSync(join(project, file, '..'), { recursive: true });
    if (existsSync(file)) cpSync(file, join(project, file));
  }
  // This machine reaches the npm registry through a TLS-inspecting proxy: the guest must trust what we trust.
  const cas = existsSync(LOCAL_CAS) ? readdirSync(LOCAL_CAS).filter((f) => f.endsWith('.crt')) : [];
  mkdirSync(join(project, 'ca'), { recursive: true });
  for (const ca of cas) cpSync(join(LOCAL_CAS, ca), join(project, 'ca', ca));
  return cas.map((ca) => `/vagrant/ca/${ca}`);
}

let extraVars: Record<string, unknown> = {};
const env = (vars: Record<string, unknown> = {}) => ({
  ...process.env,
  VAGRANT_CWD: project,
  VAGRANT_DEFAULT_PROVIDER: 'docker',
  SD_VAGRANT_HTTP_PORT: String(httpPort),
  FORWARD_DOCKER_PORTS: 'true',
  DOCKER_PORTS_FIRST: '20000',
  DOCKER_PORTS_LAST: '20031',
  SD_ANSIBLE_EXTRA_VARS: JSON.stringify({ ...extraVars, ...vars }),
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

const api = (method: string, path: string, body?: unknown) =>
  fetch(`http://127.0.0.1:${httpPort}${path}`, {
    method,
    headers: { authorization: `Basic ${Buffer.from('admin:spindocker').toString('base64')}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
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
  const cas = copyProject();
  extraVars = {
    sd_npm_registry: execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim().replace(/\/$/, ''),
    sd_extra_ca_certificates: cas,
  };
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
    const res = await waitUntil(
      'the API',
      async () => ((await api('GET', '/v1/containers').catch(() => undefined))?.status === 200 ? true : undefined),
      120_000,
    );
    expect(res).toBe(true);
    expect((await api('GET', '/healthz').then((r) => r.json())) as object).toMatchObject({ status: 'ok', redis: 'ok', docker: 'ok' });
    expect((await fetch(`http://127.0.0.1:${httpPort}/v1/containers`)).status).toBe(401);
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
