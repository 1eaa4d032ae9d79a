import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootHost, makeHostImage, removeHost } from '../support/host.js';
import { httpsRequest } from '../support/https.js';

/**
 * The playbook makes a swarm: three fresh Debian 12 hosts (as provision.test.ts makes one), on a network of the
 * test's own, in an inventory with one host in swarm_managers and two in swarm_workers, provisioned in one run.
 * Then, from outside: the swarm has three ready nodes, the API answers through the manager's nginx, a container
 * created there runs on a worker node and answers on its port there, that node's worker observes a client's
 * connection, and a connection to it once it sleeps wakes it. `npm run test:deploy`.
 */
const run = promisify(execFile);
const suffix = randomBytes(3).toString('hex');
const NETWORK = `sd-pbswarm-${suffix}`;
const HOSTS = [`sd-pbswarm-m-${suffix}`, `sd-pbswarm-w1-${suffix}`, `sd-pbswarm-w2-${suffix}`] as const;
const PASSWORD = 'playbook-swarm-password';
const LOCAL_CAS = '/usr/local/share/ca-certificates';
const workDir = mkdtempSync(join(tmpdir(), 'sd-pbswarm-'));
const sourceDir = join(workDir, 'repo');
const address: Record<string, string> = {};
let managerCa = '';

const inHost = async (host: string, command: string) =>
  (await run('docker', ['exec', host, 'bash', '-c', command], { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();

async function api(method: string, path: string, body?: Record<string, string>) {
  const res = await httpsRequest(`https://${address[HOSTS[0]]}${path}`, {
    ca: managerCa,
    method,
    headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    ...(body === undefined ? {} : { body: new URLSearchParams(body).toString() }),
  });
  return { status: res.status, body: (res.text === '' ? null : JSON.parse(res.text)) as Record<string, string> };
}

/** An HTTP status from a node's port, or '' when nothing answers. */
async function statusLine(host: string, port: string): Promise<string> {
  const out = await run('curl', ['-s', '-m', '10', '-o', '/dev/null', '-w', '%{http_code}', `http://${address[host]}:${port}/`]).catch(
    (e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }),
  );
  return out.stdout;
}

function holdOpen(host: string, port: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host, () => resolve(socket));
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  await makeHostImage();
  await run('docker', ['network', 'create', NETWORK]);
  for (const host of HOSTS) address[host] = await bootHost(host, `${host}-docker`, { network: NETWORK, hostname: host });
  // The repository as a clone has it (what the playbook copies and builds).
  for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'web', 'scripts', 'images']) {
    mkdirSync(join(sourceDir, path, '..'), { recursive: true });
    cpSync(path, join(sourceDir, path), { recursive: true });
  }
  const host = (name: string) => `${name} ansible_connection=community.docker.docker ansible_python_interpreter=/usr/bin/python3 ansible_become=false`;
  writeFileSync(join(workDir, 'hosts'), ['[swarm_managers]', host(HOSTS[0]), '[swarm_workers]', host(HOSTS[1]), host(HOSTS[2]), ''].join('\n'));
  const vars = {
    sd_source_dir: sourceDir,
    sd_password: PASSWORD,
    sd_images: ['demo'],
    sd_initial_timeout_interval: 600,
    sd_timeout_interval: 300,
    sd_activity_sample_interval: 2,
    sd_extra_ca_certificates: existsSync(LOCAL_CAS)
      ? readdirSync(LOCAL_CAS)
          .filter((f) => f.endsWith('.crt'))
          .map((f) => join(LOCAL_CAS, f))
      : [],
  };
  writeFileSync(join(workDir, 'vars.json'), JSON.stringify(vars));
  const started = Date.now();
  try {
    const { stdout } = await run('ansible-playbook', ['-i', join(workDir, 'hosts'), 'ansible/spin_docker.yml', '-e', `@${join(workDir, 'vars.json')}`], {
      env: { ...process.env, ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: 'False' },
      maxBuffer: 64 * 1024 * 1024,
    });
    const recap = stdout.slice(stdout.lastIndexOf('PLAY RECAP'));
    process.stdout.write(`playbook on three hosts: ${((Date.now() - started) / 1000).toFixed(0)} s\n${recap}\n`);
    expect(recap).not.toMatch(/failed=[1-9]|unreachable=[1-9]/);
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    throw new Error(`ansible-playbook failed:\n${(e.stdout ?? '').slice(-8000)}\n${(e.stderr ?? '').slice(-2000)}`);
  }
  managerCa = await inHost(HOSTS[0], 'cat /etc/spin-docker/tls/server.crt');
}, 3_600_000);

afterAll(async () => {
  for (const host of HOSTS) {
    const log = await inHost(host, 'journalctl -u spin-docker-worker -n 15 --no-pager').catch(() => '');
    process.stdout.write(`--- worker on ${host}\n${log}\n`);
    await removeHost(host, `${host}-docker`);
  }
  await run('docker', ['network', 'rm', NETWORK]).catch(() => undefined);
  rmSync(workDir, { recursive: true, force: true });
}, 300_000);

describe('the playbook with swarm_managers and swarm_workers', () => {
  it('makes one swarm of the three hosts, the manage engine on the network over TLS only, a worker on every node and the API on the manager', async () => {
    const nodes = await inHost(HOSTS[0], "docker node ls --format '{{.Hostname}} {{.Status}}' | sort");
    expect(nodes).toBe(
      [...HOSTS]
        .sort()
        .map((h) => `${h} Ready`)
        .join('\n'),
    );
    for (const host of HOSTS) expect(await inHost(host, 'systemctl is-active spin-docker-worker')).toBe('active');
    expect(await inHost(HOSTS[0], 'systemctl is-active spin-docker-api')).toBe('active');
    for (const host of HOSTS.slice(1)) {
      expect(await inHost(host, 'systemctl is-active spin-docker-api 2>&1 || true')).not.toBe('active');
      expect(await inHost(host, 'grep -E "^(SD_ENGINE|DOCKER_HOST|DOCKER_CERT_PATH)=" /etc/spin-docker/spin-docker.env')).toBe(
        ['SD_ENGINE=swarm', `DOCKER_HOST=tcp://${address[HOSTS[0]]}:2376`, 'DOCKER_CERT_PATH=/etc/spin-docker/docker-certs'].join('\n'),
      );
    }
    // Without the client certificate the manager's engine is not reachable from a node; with it, it is (the
    // node's own docker CLI: the hosts have no curl).
    const engine = `tcp://${address[HOSTS[0]]}:2376`;
    const info = "info --format '{{.Name}} {{.Swarm.ControlAvailable}}'";
    expect(await inHost(HOSTS[1], `timeout 10 docker -H ${engine} ${info} 2>&1 || echo refused`)).not.toContain(HOSTS[0]);
    expect(await inHost(HOSTS[1], `timeout 10 docker -H ${engine} --tls ${info} 2>&1 || echo refused`)).not.toContain(HOSTS[0]);
    expect(await inHost(HOSTS[1], `DOCKER_CERT_PATH=/etc/spin-docker/docker-certs timeout 10 docker -H ${engine} --tlsverify ${info}`)).toBe(
      `${HOSTS[0]} true`,
    );
    expect((await api('GET', '/healthz')).body).toMatchObject({ status: 'ok', redis: 'ok', docker: 'ok', worker: 'ok' });
  });

  it("runs a container on a worker node: it answers there, that node's worker observes a client, and a connection wakes it from its sleep", async () => {
    let c: Record<string, string> = {};
    for (let i = 0; i < 10 && (c.node === undefined || c.node === HOSTS[0]); i += 1) {
      const res = await api('POST', '/v1/containers', { image: 'spin-docker/demo' });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      c = res.body;
    }
    const node = c.node as string;
    expect(HOSTS.slice(1)).toContain(node);
    const id = c.container_id as string;
    const port = c.app_port as string;
    await waitFor(async () => (await statusLine(node, port)) === '200', 30_000);
    const socket = await holdOpen(address[node] as string, port);
    try {
      await waitFor(async () => (await api('GET', `/v1/containers/${id}`)).body.connections === '1', 30_000);
    } finally {
      socket.destroy();
    }
    expect((await api('PATCH', `/v1/containers/${id}`, { status: 'stopped' })).status).toBe(200);
    await waitFor(async () => (await api('GET', `/v1/containers/${id}`)).body.asleep === (true as unknown as string), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await waitFor(async () => (await statusLine(node, port)) === '200', 60_000);
    expect((await api('GET', `/v1/containers/${id}`)).body).toMatchObject({ status: 'running', node });
  });
});

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not within ${ms / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
