import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootHost, makeHostImage, removeHost } from '../support/host.js';
import { httpsRequest } from '../support/https.js';
import { openEvents } from '../support/sse.js';
import { waitUntil } from '../support/wait.js';

/**
 * The playbook against a fresh Debian 12 host made by this test: a debootstrap'd root file system (cached)
 * booted with systemd as PID 1 in a container of this machine's Docker engine, reached by Ansible through the
 * community.docker.docker connection. Everything is then checked from outside, through nginx on port 80.
 * `npm run test:deploy`; minutes, mostly apt and npm inside the host.
 */
const run = promisify(execFile);
const suffix = randomBytes(3).toString('hex');
const host = `sd-deploy-${suffix}`;
const dockerVolume = `sd-deploy-docker-${suffix}`;
const workDir = mkdtempSync(join(tmpdir(), 'sd-deploy-'));
// Quotes, a backslash, a dollar and a hash: what a settings file that does not quote it reads otherwise.
const PASSWORD = `deploy "test" \\ $HOME 'pw' #1`;
/** The host's certificate (self-signed by the playbook): the one authority the test trusts for it. */
let hostCa = '';
const LOCAL_CAS = '/usr/local/share/ca-certificates';
let address = '';
/** Later steps make sense only on a provisioned host; they fail at once otherwise. */
let provisioned = false;

/**
 * The repository as the playbook reads it, copied so that the test can add a source file and take it away
 * again (a file deleted from the repository must not stay on the host and be compiled).
 */
const sourceDir = join(workDir, 'repo');
const OBSOLETE = 'src/obsolete-for-test.ts';
function copyRepository(): void {
  mkdirSync(join(sourceDir, 'images', 'demo'), { recursive: true });
  mkdirSync(join(sourceDir, 'scripts'), { recursive: true });
  for (const path of [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'src',
    'web',
    'scripts/build-web.mjs',
    'scripts/debian-mirror.sh',
    'images',
  ]) {
    cpSync(path, join(sourceDir, path), { recursive: true });
  }
}

const settings = (overrides: Record<string, unknown> = {}) => ({
  sd_source_dir: sourceDir,
  sd_disable_timeouts: false,
  sd_initial_timeout_interval: 600,
  sd_timeout_interval: 300,
  sd_activity_sample_interval: 2,
  sd_password: PASSWORD,
  // The demo image (offline) and the kit's base (the host's Debian mirror): the kit is built as the quick start builds it.
  sd_images: ['demo', 'base'],
  // sd_npm_registry is left to its default: this controller's own `npm config get registry`.
  // This machine reaches the registry through a TLS-inspecting proxy; the host must trust what we trust.
  sd_extra_ca_certificates: existsSync(LOCAL_CAS)
    ? readdirSync(LOCAL_CAS)
        .filter((f) => f.endsWith('.crt'))
        .map((f) => join(LOCAL_CAS, f))
    : [],
  ...overrides,
});

/** Runs the playbook as a user would, with settings as extra vars; returns the host's `changed=` count. */
async function provision(vars: Record<string, unknown>, label: string): Promise<number> {
  const inventory = join(workDir, 'hosts');
  // A setting as a user sets it, next to the host (it must beat the role's defaults).
  writeFileSync(
    inventory,
    `[spin_docker]\n${host} ansible_connection=community.docker.docker ansible_python_interpreter=/usr/bin/python3 ansible_become=false sd_activity_sources=observed,reported\n`,
  );
  const varsFile = join(workDir, 'vars.json');
  writeFileSync(varsFile, JSON.stringify(vars));
  const started = Date.now();
  try {
    const { stdout } = await run('ansible-playbook', ['-i', inventory, 'ansible/spin_docker.yml', '-e', `@${varsFile}`], {
      env: { ...process.env, ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: 'False' },
      maxBuffer: 64 * 1024 * 1024,
    });
    const recap = new RegExp(`${host}\\s*:\\s*ok=\\d+\\s+changed=(\\d+)\\s+unreachable=0\\s+failed=0`).exec(stdout);
    process.stdout.write(`playbook (${label}): ${((Date.now() - started) / 1000).toFixed(0)} s, ${recap?.[0] ?? 'no recap'}\n`);
    const changedTasks = [...stdout.matchAll(/(?:TASK|RUNNING HANDLER) \[([^\]]+)\][^\n]*\n(?:(?!TASK \[|RUNNING HANDLER \[)[^\n]*\n)*?changed: /g)].map(
      (m) => m[1],
    );
    if (changedTasks.length > 0) process.stdout.write(`  changed: ${[...new Set(changedTasks)].join('; ')}\n`);
    if (recap === null) throw new Error(`no clean recap:\n${stdout.slice(-4000)}`);
    return Number(recap[1]);
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    throw new Error(`ansible-playbook (${label}) failed:\n${(e.stdout ?? '').slice(-6000)}\n${(e.stderr ?? '').slice(-2000)}`);
  }
}

const inHost = async (...command: string[]) => (await run('docker', ['exec', host, ...command])).stdout.trim();

async function api(method: string, path: string, body?: Record<string, string>, password = PASSWORD) {
  const res = await httpsRequest(`https://${address}${path}`, {
    ca: hostCa,
    method,
    headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    ...(body === undefined ? {} : { body: new URLSearchParams(body).toString() }),
  });
  return { status: res.status, body: res.text === '' ? null : (JSON.parse(res.text) as Record<string, string> & unknown[]) };
}

function banner(port: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port: Number(port) });
    socket.setTimeout(5000, () => socket.destroy(new Error(`no banner on ${address}:${port}`)));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  await makeHostImage();
  address = await bootHost(host, dockerVolume);
}, 600_000);

afterAll(async () => {
  await removeHost(host, dockerVolume);
  rmSync(workDir, { recursive: true, force: true });
});

describe('ansible-playbook -i hosts ansible/spin_docker.yml on a fresh Debian 12 host', () => {
  it('stops at once, saying so, without a password of its own (and with the well-known one)', async () => {
    copyRepository();
    for (const [label, vars] of [
      ['no password', { ...settings(), sd_password: undefined }],
      ['the default password', settings({ sd_password: 'spindocker' })],
    ] as const) {
      const failure = await provision(vars as Record<string, unknown>, label).then(
        () => '',
        (error: Error) => error.message,
      );
      expect(failure, label).toMatch(/Set sd_password to a password of your own/);
      // Nothing was installed: the check comes before every task.
      expect(await inHost('sh', '-c', 'ls /opt/spin-docker 2>&1 || true')).toMatch(/No such file/);
    }
  });

  it('provisions a working server: API through nginx, a demo container with working ports that checks in', async () => {
    copyRepository();
    writeFileSync(join(sourceDir, OBSOLETE), 'export const obsolete = true;\n');
    expect(await provision(settings(), 'first run')).toBeGreaterThan(0);
    expect(await inHost('ls', '/opt/spin-docker/app/dist')).toContain('obsolete-for-test.js');
    hostCa = await inHost('cat', '/etc/spin-docker/tls/server.crt');

    // The settings landed in one file read by both units, which run as the unprivileged user; the password in
    // a file of its own that only root (systemd) reads, quoted as systemd reads it.
    const envFile = await inHost('cat', '/etc/spin-docker/spin-docker.env');
    expect(envFile).not.toContain('SD_PASSWORD');
    expect(envFile).toContain('SD_TIMEOUT_INTERVAL=300');
    expect(await inHost('stat', '-c', '%a %U', '/etc/spin-docker/password.env')).toBe('600 root');
    expect(await inHost('cat', '/etc/spin-docker/password.env')).toContain(`SD_PASSWORD="deploy \\"test\\" \\\\ $HOME 'pw' #1"`);
    for (const unit of ['spin-docker-api', 'spin-docker-worker']) {
      expect(await inHost('systemctl', 'is-active', unit)).toBe('active');
      expect(await inHost('systemctl', 'show', '-p', 'User', '--value', unit)).toBe('spin-docker');
    }
    expect(await inHost('redis-cli', 'config', 'get', 'appendonly')).toMatch(/appendonly\s+yes/);

    // From outside, through nginx: HTTPS on 443 (a self-signed certificate for the host's addresses), and plain
    // HTTP on 80 redirecting there.
    const plain = await fetch(`http://${address}/v1/images`, { redirect: 'manual' });
    expect([plain.status, plain.headers.get('location')]).toEqual([301, `https://${address}/v1/images`]);
    expect((await api('GET', '/v1/images', undefined, 'wrong')).status).toBe(401);
    const images = await waitUntil(
      'the API behind nginx',
      async () => {
        const res = await api('GET', '/v1/images');
        return res.status === 200 ? res.body : undefined;
      },
      60_000,
    );
    expect(images).toContain('spin-docker/demo:latest');
    // The kit as sd_images says (the quick start's), and the CLI on the PATH as the quick start puts it there.
    expect(images).toContain('spin-docker/base:latest');
    expect((await run('docker', ['exec', '-e', `SD_PASSWORD=${PASSWORD}`, host, 'spin-docker', 'images'])).stdout).toContain('spin-docker/base:latest');
    expect((await api('GET', '/healthz')).body).toMatchObject({ status: 'ok', redis: 'ok', docker: 'ok', worker: 'ok' });

    // The dashboard is built and served; live events pass nginx as they come (a buffering proxy would hold
    // them back until its buffer filled).
    const dashboard = await httpsRequest(`https://${address}/`, {
      ca: hostCa,
      headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` },
    });
    expect(dashboard.status).toBe(200);
    expect(dashboard.text).toContain('/ui/app.js');
    expect(dashboard.headers['strict-transport-security']).toMatch(/max-age=/);
    const events = await openEvents(443, ['admin', PASSWORD], { host: address, ca: hostCa });
    expect(events.response.headers['content-type']).toMatch(/^text\/event-stream/);

    const created = await api('POST', '/v1/containers', { image: 'spin-docker/demo' });
    const told = await events.next((f) => f.event === 'container.created', 5_000);
    expect(JSON.parse(told.data as string).container_id).toBe(created.body?.container_id);
    events.close();
    expect(created.status).toBe(201);
    const { container_id: id, app_port: appPort, ssh_port: sshPort } = created.body as unknown as Record<string, string>;
    expect(appPort).toMatch(/^\d+$/);
    const page = await fetch(`http://${address}:${appPort}/`, { signal: AbortSignal.timeout(10_000) });
    expect(page.status).toBe(200);
    expect(await banner(sshPort ?? '')).toMatch(/^SSH-2\.0-/);

    // The demo reports every 5 s to SD_CHECKIN_URL: nginx at the host's Docker bridge (plain HTTP, not redirected), with its token.
    const checkedIn = await waitUntil(
      'the demo container to check in',
      async () => {
        const res = await api('GET', `/v1/containers/${id}`);
        return res.status === 200 && res.body?.last_check_in ? res.body.last_check_in : undefined;
      },
      60_000,
    );
    expect(checkedIn).not.toBe('');

    // Observed activity through the systemd units' sandbox: a client holding a connection open to a container
    // with no reporter is seen by the worker (which reads /proc/<pid>/net of the container as user spin-docker).
    const dockerfile = 'FROM spin-docker/demo\nCMD ["httpd", "-f", "-p", "80", "-h", "/var/www"]\n';
    execFileSync('docker', ['exec', '-i', host, 'docker', 'build', '-q', '-t', 'sd-test/httpd', '-'], { input: dockerfile });
    const quiet = await api('POST', '/v1/containers', { image: 'sd-test/httpd' });
    expect(quiet.status).toBe(201);
    const { container_id: quietId, app_port: quietPort } = quiet.body as unknown as Record<string, string>;
    await waitUntil(
      'the silent container to answer',
      async () => ((await fetch(`http://${address}:${quietPort}/`, { signal: AbortSignal.timeout(2000) })).ok ? true : undefined),
      30_000,
    );
    const client = connect({ host: address, port: Number(quietPort) });
    try {
      const seen = await waitUntil(
        'the worker to see the connection',
        async () => {
          const res = await api('GET', `/v1/containers/${quietId}`);
          return res.body?.connections === '1' ? res.body : undefined;
        },
        60_000,
      );
      expect(seen).toMatchObject({ activity_source: 'observed', active: '0' });
      const workerLog = await inHost('sh', '-c', 'journalctl -u spin-docker-worker --no-pager | grep -i activity | tail -5');
      expect((await api('GET', '/healthz')).body, workerLog).toMatchObject({ activity: 'observed' });
    } finally {
      client.destroy();
    }
    provisioned = true;
  });

  it('changes nothing when run again', async () => {
    expect(provisioned).toBe(true);
    expect(await provision(settings(), 'second run')).toBe(0);
  });

  it('restarts the services when a setting changes, and drops a source file the repository lost', async () => {
    expect(provisioned).toBe(true);
    const pids = async () => Promise.all(['spin-docker-api', 'spin-docker-worker'].map((u) => inHost('systemctl', 'show', '-p', 'MainPID', '--value', u)));
    const before = await pids();
    rmSync(join(sourceDir, OBSOLETE));
    expect(await provision(settings({ sd_timeout_interval: 301 }), 'changed setting, one source file fewer')).toBeGreaterThan(0);
    expect(await inHost('ls', '/opt/spin-docker/source/src', '/opt/spin-docker/app/dist')).not.toContain('obsolete-for-test');
    expect(await inHost('cat', '/etc/spin-docker/spin-docker.env')).toContain('SD_TIMEOUT_INTERVAL=301');
    const after = await pids();
    expect(after[0]).not.toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
    await waitUntil('the API after the restart', async () => ((await api('GET', '/v1/containers')).status === 200 ? true : undefined), 60_000);
  });
});
