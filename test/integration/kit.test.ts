import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listening } from '../support/net.js';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { waitUntil } from '../support/wait.js';

/**
 * The image kit (images/), built offline by images/build.sh in the global setup, started through the API and
 * used from the host as a user would: ssh with a key, psql, an HTTP page, redis-cli.
 */
const run = promisify(execFile);
const docker = new Docker();
let h: Harness;
let keys: string;
const key = (name: string) => join(keys, name);
const publicKey = (name: string) => readFileSync(`${key(name)}.pub`, 'utf8').trim();

/** The kit is built in the background from the start of the run (global-setup.ts); wait for it here. */
async function kitBuilt(): Promise<void> {
  const status = process.env.SD_KIT_BUILD_STATUS;
  if (status === undefined) return;
  const code = await waitUntil('the image kit to build', async () => (existsSync(status) ? readFileSync(status, 'utf8').trim() : undefined), 900_000);
  if (code !== '0') throw new Error(`images/build.sh failed (exit ${code}):\n${readFileSync(process.env.SD_KIT_BUILD_LOG as string, 'utf8').slice(-4000)}`);
}

beforeAll(async () => {
  await kitBuilt();
  h = await startHarness();
  keys = mkdtempSync(join(tmpdir(), 'sd-kit-keys-'));
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice', '-f', key('alice')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mallory', '-f', key('mallory')]);
}, 900_000);
afterAll(async () => {
  await h?.close();
  if (keys) rmSync(keys, { recursive: true, force: true });
});

interface Started {
  id: string;
  ssh: string;
  app: string;
}

async function start(image: string, options: { ssh_key?: string; env?: Record<string, string>; stop_after?: string } = {}): Promise<Started> {
  const res = await h.http
    .post('/v1/containers')
    .auth(...h.auth)
    .send({ image, ...options });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.status).toBe('running');
  return { id: res.body.container_id as string, ssh: res.body.ssh_port as string, app: res.body.app_port as string };
}

/** `ssh -i <key> root@127.0.0.1 <command>` without prompts or known-hosts files: its exit code and output. */
async function ssh(port: string, keyName: string, command: string): Promise<{ code: number; out: string }> {
  const args = [
    '-i',
    key(keyName),
    '-p',
    port,
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'ConnectTimeout=5',
    '-o',
    'LogLevel=ERROR',
    'root@127.0.0.1',
    command,
  ];
  try {
    const { stdout } = await run('ssh', args, { timeout: 20_000 });
    return { code: 0, out: stdout };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Waits for sshd to answer (the first start makes the host keys), then runs the command. */
async function sshWhenUp(port: string, keyName: string, command: string) {
  await waitUntil(
    `sshd on ${port}`,
    async () => ((await run('ssh-keyscan', ['-p', port, '-T', '2', '127.0.0.1']).catch(() => ({ stdout: '' }))).stdout ? true : undefined),
    30_000,
  );
  return ssh(port, keyName, command);
}

async function psql(port: string, password: string, sql: string, extra: string[] = [], connectTimeout = '3'): Promise<string> {
  const { stdout } = await run('psql', ['-h', '127.0.0.1', '-p', port, '-U', 'postgres', '-X', '-At', ...extra, '-c', sql], {
    env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: connectTimeout },
    timeout: 20_000,
  });
  return stdout.trim();
}

describe('spin-docker/base', () => {
  it('lets in the key it was given, and no other key, and no password', async () => {
    const c = await start(TEST_IMAGES.base, { ssh_key: publicKey('alice') });
    expect(c.ssh).not.toBe('');
    const ok = await sshWhenUp(c.ssh, 'alice', 'echo "$(id -un) on $(. /etc/os-release; echo $VERSION_CODENAME)"');
    expect(ok).toEqual({ code: 0, out: 'root on bookworm\n' });
    const refused = await ssh(c.ssh, 'mallory', 'true');
    expect(refused.code).toBe(255);
    expect(refused.out).toMatch(/Permission denied \(publickey\)/);
  });

  it('says at a login when the container stops, from its check-in answer', async () => {
    const c = await start(TEST_IMAGES.base, { ssh_key: publicKey('alice'), stop_after: '2h' });
    const stopAt = new Date(((await h.http.get(`/v1/containers/${c.id}`).auth(...h.auth)).body as { stop_at: string }).stop_at);
    const at = `${String(stopAt.getUTCHours()).padStart(2, '0')}:${String(stopAt.getUTCMinutes()).padStart(2, '0')} UTC`;
    // sd-report checks in at once after the start; a login shell (bash -l reads /etc/profile.d) shows the answer's stop_at.
    const login = await waitUntil(
      'the stop time at a login',
      async () => {
        const { out } = await sshWhenUp(c.ssh, 'alice', 'bash -l -c true');
        return out.includes('stops at') ? out : undefined;
      },
      30_000,
    );
    expect(login).toBe(`this container stops at ${at} (extend: spin-docker extend ${c.id.slice(0, 12)} 1h, or Extend in the dashboard)\n`);
  });

  it('makes its own SSH host keys per container: no two containers share one', async () => {
    const [a, b] = [await start(TEST_IMAGES.base), await start(TEST_IMAGES.base)];
    const scan = async (port: string) =>
      waitUntil(
        `host key on ${port}`,
        async () => {
          const { stdout } = await run('ssh-keyscan', ['-t', 'ed25519', '-p', port, '-T', '2', '127.0.0.1']).catch(() => ({ stdout: '' }));
          return stdout.split(' ')[2]?.trim() || undefined;
        },
        30_000,
      );
    const [keyA, keyB] = [await scan(a.ssh), await scan(b.ssh)];
    expect(keyA).toMatch(/^AAAA/);
    expect(keyA).not.toBe(keyB);
    // and the image itself carries none
    const files = await run('docker', ['run', '--rm', '--entrypoint', 'sh', TEST_IMAGES.base, '-c', 'ls /etc/ssh']);
    expect(files.stdout).not.toMatch(/ssh_host_/);
  });
});

describe('sd-init', () => {
  it("ends the container with the service's own status when the service ends, stopping sshd too", async () => {
    // Plain `docker run`, no --init: tini is PID 1.
    const result = await run('docker', ['run', '--rm', TEST_IMAGES.base, 'sh', '-c', 'sleep 1; exit 3']).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(result).toMatchObject({ code: 3, stderr: expect.stringMatching(/sd-init: sh ended \(status 3\): stopping the rest/) });
  });
});

describe('spin-docker/postgres', () => {
  it('serves PostgreSQL with POSTGRES_PASSWORD and POSTGRES_DB, psql from the host and over SSH, and stops cleanly', async () => {
    const c = await start(TEST_IMAGES.postgres, {
      ssh_key: publicKey('alice'),
      env: { POSTGRES_PASSWORD: 'kit-secret', POSTGRES_DB: 'shop' },
    });
    const one = await waitUntil('psql select 1', () => psql(c.app, 'kit-secret', 'select 1', ['-d', 'shop']).catch(() => undefined), 60_000);
    expect(one).toBe('1');
    await expect(psql(c.app, 'wrong', 'select 1')).rejects.toThrow(/password authentication failed/);
    const inside = await sshWhenUp(c.ssh, 'alice', "psql -U postgres -d shop -XAtc 'select current_database()'");
    expect(inside).toEqual({ code: 0, out: 'shop\n' });

    // A stop is a fast shutdown (SIGINT to postgres), not a kill at the timeout.
    const res = await h.http
      .patch(`/v1/containers/${c.id}`)
      .auth(...h.auth)
      .send({ status: 'stopped' });
    expect(res.status).toBe(200);
    const state = await waitUntil(
      'the container stopped',
      async () => {
        const s = (await docker.getContainer(c.id).inspect()).State;
        return s.Running ? undefined : s;
      },
      30_000,
    );
    expect(state.ExitCode).toBe(0);
    const logs = (await docker.getContainer(c.id).logs({ stdout: true, stderr: true })).toString();
    expect(logs).toMatch(/database system is shut down/);
  });

  it('makes a random password when none is given, and tells it once in the log', async () => {
    const c = await start(TEST_IMAGES.postgres);
    const password = await waitUntil(
      'the generated password in the log',
      async () => {
        const res = await h.http.get(`/v1/containers/${c.id}/logs`).auth(...h.auth);
        return /the password of postgres is (\S+)/.exec(res.text)?.[1];
      },
      30_000,
    );
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(await waitUntil('psql', () => psql(c.app, password, 'select 2').catch(() => undefined), 60_000)).toBe('2');
    await expect(psql(c.app, '', 'select 1')).rejects.toThrow();
  });

  it('reports its client backends (pg_stat_activity) to spin-docker', async () => {
    const c = await start(TEST_IMAGES.postgresFast, { env: { POSTGRES_PASSWORD: 'kit-secret' } });
    await waitUntil('psql', () => psql(c.app, 'kit-secret', 'select 1').catch(() => undefined), 60_000);
    const count = async () => (await run('docker', ['exec', c.id, 'sd-postgres-clients'])).stdout.trim();
    expect(await count()).toBe('0');
    // One client holds a session open for a while: the reporter counts it, and spin-docker records the report.
    const held = run('psql', ['-h', '127.0.0.1', '-p', c.app, '-U', 'postgres', '-X', '-c', 'select pg_sleep(8)'], {
      env: { ...process.env, PGPASSWORD: 'kit-secret' },
    });
    expect(await waitUntil('a client backend', async () => ((await count()) === '1' ? '1' : undefined), 10_000)).toBe('1');
    const view = await waitUntil(
      'a reported activity',
      async () => {
        const res = await h.http.get(`/v1/containers/${c.id}`).auth(...h.auth);
        return res.body.activity_source === 'reported' ? res.body : undefined;
      },
      15_000,
    );
    expect(view.last_check_in).not.toBeNull();
    await held;
  });
});

describe('spin-docker/django', () => {
  it('serves its page through gunicorn on the app port, and SSH on 22', async () => {
    const c = await start(TEST_IMAGES.django, { ssh_key: publicKey('alice') });
    const page = await waitUntil(
      'the Django page',
      async () => {
        const res = await fetch(`http://127.0.0.1:${c.app}/`).catch(() => undefined);
        return res?.ok ? res.text() : undefined;
      },
      30_000,
    );
    expect(page).toMatch(/Hello from Django 3\.2\.\d+<\/h1>/);
    expect((await sshWhenUp(c.ssh, 'alice', 'ps -o user= -C gunicorn | sort -u')).out).toBe('app\n');
  });
});

describe('spin-docker/redis', () => {
  it('asks for a password always: REDIS_PASSWORD, or a random one printed once to the log and kept across a stop', async () => {
    const ping = (port: string, ...extra: string[]) =>
      run('redis-cli', ['-h', '127.0.0.1', '-p', port, ...extra, 'ping'], { timeout: 5_000 }).then((r) => r.stdout.trim());
    const made = await start(TEST_IMAGES.redis);
    const logs = async () => (await h.http.get(`/v1/containers/${made.id}/logs?tail=all`).auth(...h.auth)).text;
    const password = await waitUntil('the password in the log', async () => /the password is (\S+)/.exec(await logs())?.[1], 30_000);
    await waitUntil(
      'redis up',
      () =>
        ping(made.app).then(
          (out) => out || undefined,
          () => undefined,
        ),
      30_000,
    );
    // Before, a redis-cli from anywhere was answered without any password.
    expect(await ping(made.app)).toMatch(/NOAUTH/);
    expect(await ping(made.app, '--no-auth-warning', '-a', password)).toBe('PONG');
    // Stopped and started again: the same password, not printed again.
    await h.http
      .patch(`/v1/containers/${made.id}`)
      .auth(...h.auth)
      .send({ status: 'stopped' });
    await waitUntil(
      'stopped',
      async () => ((await h.http.get(`/v1/containers/${made.id}`).auth(...h.auth)).body.status === 'stopped' ? true : undefined),
      30_000,
    );
    await h.http
      .patch(`/v1/containers/${made.id}`)
      .auth(...h.auth)
      .send({ status: 'running' });
    await waitUntil(
      'redis up again',
      () =>
        ping(made.app, '--no-auth-warning', '-a', password).then(
          (out) => (out === 'PONG' ? out : undefined),
          () => undefined,
        ),
      30_000,
    );
    expect((await logs()).match(/the password is/g)?.length).toBe(1);

    const locked = await start(TEST_IMAGES.redis, { env: { REDIS_PASSWORD: 'kit-secret' } });
    await waitUntil(
      'redis up',
      () =>
        ping(locked.app)
          .then((out) => out || undefined)
          .catch(() => undefined),
      30_000,
    );
    expect(await ping(locked.app)).toMatch(/NOAUTH/);
    expect(await ping(locked.app, '--no-auth-warning', '-a', 'kit-secret')).toBe('PONG');
  });
});

describe('a sleeping container of the kit wakes for its own protocol', () => {
  const stop = async (c: Started) => {
    await h.http
      .patch(`/v1/containers/${c.id}`)
      .auth(...h.auth)
      .send({ status: 'stopped' });
    await waitUntil('it sleeps', async () => ((await h.http.get(`/v1/containers/${c.id}`).auth(...h.auth)).body.asleep === true ? true : undefined), 30_000);
    // Its ports are the worker's once it has seen the stop: told by trying to bind one (a connection would wake it).
    await waitUntil('its ports are listened on', async () => ((await listening(Number(c.app))) ? true : undefined), 10_000);
  };

  it('psql against a sleeping PostgreSQL gets its answer, on the same port', async () => {
    const c = await start(TEST_IMAGES.postgres, { env: { POSTGRES_PASSWORD: 'wake-secret' } });
    await waitUntil('psql select 1', () => psql(c.app, 'wake-secret', 'select 1').catch(() => undefined), 60_000);
    await stop(c);
    // The first connection waits while the container starts and PostgreSQL comes up: seconds, not three.
    expect(await psql(c.app, 'wake-secret', 'select 42', [], '30')).toBe('42');
    expect((await h.http.get(`/v1/containers/${c.id}`).auth(...h.auth)).body).toMatchObject({ status: 'running', app_port: c.app });
  });

  it('ssh into a sleeping spin-docker/base runs the command and returns', async () => {
    const c = await start(TEST_IMAGES.base, { ssh_key: publicKey('alice') });
    expect(await sshWhenUp(c.ssh, 'alice', 'true')).toEqual({ code: 0, out: '' });
    await stop({ ...c, app: c.ssh });
    expect(await ssh(c.ssh, 'alice', 'echo woke by ssh')).toEqual({ code: 0, out: 'woke by ssh\n' });
    expect((await h.http.get(`/v1/containers/${c.id}`).auth(...h.auth)).body).toMatchObject({ status: 'running', ssh_port: c.ssh });
  });
});

describe('images/build.sh', () => {
  it('skips spin-docker/mongo, saying why, when its base is not on the engine, and does not fail', async () => {
    const base = 'spin-docker-test/no-such-mongo:0';
    const { stdout } = await run('bash', ['images/build.sh', 'mongo'], { env: { ...process.env, MONGO_BASE: base } });
    expect(stdout).toMatch(new RegExp(`skipping spin-docker/mongo: its base ${base} is not on this engine`));
  });

  it('refuses an image it does not know', async () => {
    await expect(run('bash', ['images/build.sh', 'nonesuch'])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/no image named nonesuch/) });
  });
});
