import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
    expect(stdout).toContain('+SD_PASSWORD=from-inventory');
    expect(stdout).toContain('+SD_ENVIRONMENT=production');
    expect(stdout).toContain('+SD_TIMEOUT_INTERVAL=1234');
    expect(stdout).not.toContain('SD_PASSWORD=spindocker');
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
      env: { ...process.env, VAGRANT_DEFAULT_PROVIDER: 'docker', SD_ANSIBLE_EXTRA_VARS: '{"sd_timeout_interval": 600}', SD_VAGRANT_HTTP_PORT: '18080' },
    });
    expect(stdout).toContain('Vagrantfile validated successfully');
  });

  it('docker-compose.yml passes docker-compose config: Redis append-only, the socket only where it is needed', async () => {
    const { stdout } = await run('docker-compose', ['config'], {
      env: { ...process.env, SD_PASSWORD: 'pw', NODE_IMAGE: 'local/node:test', REDIS_IMAGE: 'local/redis:test' },
    });
    expect(stdout).toMatch(/NODE_IMAGE: local\/node:test/);
    expect(stdout).toMatch(/image: local\/redis:test/);
    expect(stdout).toMatch(/--appendonly\s*\n?\s*- ['"]?yes/);
    expect(stdout.match(/\/var\/run\/docker\.sock/g)?.length).toBe(4);
    for (const service of ['api', 'worker', 'redis']) expect(stdout).toMatch(new RegExp(`\\n  ${service}:\\n`));
    expect(stdout).toMatch(/healthcheck\.js[\s\S]*api/);
    expect(stdout).toMatch(/healthcheck\.js[\s\S]*worker/);
  });

  it('docker-compose.yml: containers check in on the published port, a password is required, and the processes are confined', async () => {
    const config = (env: Record<string, string>) => run('docker-compose', ['config'], { env: { ...process.env, ...env } });
    const { stdout } = await config({ SD_PASSWORD: 'pw', SD_PUBLISH: '9090' });
    // Published on 9090, listening on 8080 inside: the check-in URL must name 9090 (where containers reach it).
    expect(stdout).toMatch(/published: 9090\s+target: 8080/);
    expect(stdout.match(/SD_CHECKIN_PORT: '9090'/g)).toHaveLength(2);
    expect(stdout.match(/SD_PORT: '8080'/g)).toHaveLength(2);
    for (const hardening of [/cap_drop:\s*\n\s*- ALL/g, /read_only: true/g, /no-new-privileges:true/g]) expect(stdout.match(hardening)).toHaveLength(2);
    // Only the worker shares the host's PID namespace (it reads the containers' sockets there).
    expect(stdout.match(/pid: host/g)).toHaveLength(1);
    expect(stdout).toMatch(/\n {2}worker:\n(?: {4}.*\n)* {4}pid: host\n/);
    // The worker listens on sleeping containers' host ports: the host's network; Redis reaches it on loopback only.
    expect(stdout).toMatch(/\n {2}worker:\n(?: {4}.*\n)* {4}network_mode: host\n/);
    expect(stdout).toMatch(/\n {2}redis:\n(?: {4}.*\n)* {4}- 127\.0\.0\.1:6390:6379\/tcp\n/);

    const unset = { ...process.env };
    delete unset.SD_PASSWORD;
    const refused = await run('docker-compose', ['config'], { env: unset }).then(
      () => '',
      (error: { stderr?: string }) => error.stderr ?? 'failed',
    );
    expect(refused).toContain('set SD_PASSWORD');
  });
});
