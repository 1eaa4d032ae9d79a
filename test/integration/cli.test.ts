import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { freePort } from '../support/net.js';
import { PrivateRegistry } from '../support/registry.js';
import { waitUntil } from '../support/wait.js';

/** The `spin-docker` CLI (dist/cli/spin-docker.js, the package's bin) against the real server. */
const execFileAsync = promisify(execFile);
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILUV5ErnKdseIqInw8AS3grtsEOmTR7DR0ELunVf6aPO alice@laptop';
let h: Harness;
let dir: string;

beforeAll(async () => {
  if (!existsSync('dist/cli/spin-docker.js')) throw new Error('run `npm run build` first (npm test does)');
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), 'sd-cli-'));
});
afterAll(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a script would: no terminal, the server from the environment. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['dist/cli/spin-docker.js', ...args], {
      env: { PATH: process.env.PATH, SD_URL: `http://127.0.0.1:${h.port}`, SD_PASSWORD: PASSWORD, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('spin-docker (CLI)', () => {
  it('run, ps, inspect, stop, start, rm: as docker does, with short ids', async () => {
    const keyFile = join(dir, 'id.pub');
    writeFileSync(keyFile, `${ED25519}\n`);
    const run = await cli(['run', TEST_IMAGES.demo, '--ssh-key', keyFile, '-e', 'GREETING=hello', '-e', 'B=x=y']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const id = run.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);

    const ps = await cli(['ps']);
    expect(ps.code).toBe(0);
    const [header, ...rows] = ps.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^CONTAINER ID +IMAGE +STATUS +PORTS +CONNECTIONS +LAST ACTIVITY +NEXT CHECK +NAME$/);
    const row = rows.find((line) => line.startsWith(id.slice(0, 12)));
    expect(row).toMatch(new RegExp(`^${id.slice(0, 12)} +spin-docker/demo +running +\\d+->(22|80)/tcp, \\d+->(22|80)/tcp +.* in (1|2) hours? `));

    const inspect = JSON.parse((await cli(['inspect', id.slice(0, 6)])).stdout) as { container_id: string; ssh_keys: string[] }[];
    expect(inspect).toHaveLength(1);
    expect(inspect[0]?.container_id).toBe(id);
    expect(inspect[0]?.ssh_keys).toEqual(['SHA256:Hk/IWXMZ+5c1rSO/XddSXj327jgTVWqYGnoLhfbMVpg']);

    expect(await cli(['stop', id.slice(0, 8)])).toEqual({ code: 0, stdout: `${id}\n`, stderr: '' });
    await waitUntil('stopped', async () => ((await cli(['ps', '--all', '--json'])).stdout.includes('"stopped"') ? true : undefined), 20_000);
    // Asleep (its ports answer, a connection wakes it): listed, as asleep, with its ports.
    expect((await cli(['ps'])).stdout).toMatch(new RegExp(`^${id.slice(0, 12)} +spin-docker/demo +asleep +\\d+->(22|80)/tcp`, 'm'));
    expect((await cli(['ps', '-a', '-q'])).stdout).toContain(`${id.slice(0, 12)}\n`);
    expect((await cli(['start', id.slice(0, 8)])).code).toBe(0);
    expect(await cli(['rm', id.slice(0, 8)])).toEqual({ code: 0, stdout: `${id}\n`, stderr: '' });
    await waitUntil('deleted', async () => ((await cli(['inspect', id])).code === 1 ? true : undefined), 20_000);
  });

  it('run --stop-after, extend, and inspect saying what keeps it up and why it stopped', async () => {
    const id = (await cli(['run', TEST_IMAGES.noPorts, '--stop-after', '1h'])).stdout.trim();
    const before = JSON.parse((await cli(['inspect', id])).stdout) as { stop_at: string; kept_by: string }[];
    const stopAt = Date.parse(before[0]?.stop_at ?? '');
    expect(stopAt - Date.now()).toBeGreaterThan(55 * 60_000);
    expect(stopAt - Date.now()).toBeLessThanOrEqual(60 * 60_000);

    const extended = await cli(['extend', id.slice(0, 8), '2h']);
    expect(extended.code).toBe(0);
    const [shown, , , at] = extended.stdout.trim().split(' ');
    expect(shown).toBe(id);
    expect(Date.parse(at ?? '') - stopAt).toBeGreaterThanOrEqual(2 * 3600_000 - 1000);
    const after = JSON.parse((await cli(['inspect', id])).stdout) as { stop_at: string; kept_by: string }[];
    expect(after[0]?.stop_at).toBe(at);
    expect(after[0]?.kept_by).toMatch(/extended until/);
    expect(await cli(['extend', id, 'soon'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/duration/i) });

    expect((await cli(['stop', id])).code).toBe(0);
    const stopped = await waitUntil(
      'stopped',
      async () => {
        const [view] = JSON.parse((await cli(['inspect', id])).stdout) as { status: string; stop_reason: string }[];
        return view?.status === 'stopped' ? view : undefined;
      },
      20_000,
    );
    expect(stopped.stop_reason).toBe('requested');
    expect((await cli(['rm', id])).code).toBe(0);
  });

  it('logs: the tail, and -f that follows until the container stops', async () => {
    const id = (await cli(['run', TEST_IMAGES.chatty])).stdout.trim();
    await waitUntil('some output', async () => ((await cli(['logs', '--tail', 'all', id])).stdout.includes('out-3') ? true : undefined), 20_000);
    const tail = await cli(['logs', '-n', '2', id.slice(0, 10)]);
    expect(tail.code).toBe(0);
    expect(tail.stdout.trimEnd().split('\n')).toHaveLength(2);

    const follow = spawn(process.execPath, ['dist/cli/spin-docker.js', 'logs', '-f', '--tail', '0', id], {
      env: { PATH: process.env.PATH, SD_URL: `http://127.0.0.1:${h.port}`, SD_PASSWORD: PASSWORD },
    });
    let followed = '';
    follow.stdout.on('data', (chunk: Buffer) => (followed += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => follow.once('exit', resolve));
    await waitUntil('followed lines', async () => (/out-\d+\n[\s\S]*err-\d+\n/.test(followed) ? true : undefined), 20_000);
    await cli(['stop', id]);
    expect(await exited).toBe(0);
  });

  it('images, and pull with its progress (plain lines without a terminal) from a real registry', async () => {
    expect((await cli(['images'])).stdout.split('\n')).toContain('spin-docker/demo:latest');
    const registry = await PrivateRegistry.start();
    try {
      const reference = `${registry.host}/cli/demo:1`;
      await execFileAsync('docker', ['tag', TEST_IMAGES.demo, reference]);
      await execFileAsync('docker', ['push', reference]);
      await execFileAsync('docker', ['rmi', reference]);
      const pull = await cli(['pull', reference]);
      // Without a terminal, progress is plain lines on stderr (a bar on a terminal); the result on stdout.
      for (const line of pull.stderr.trimEnd().split('\n').filter(Boolean)) expect(line).toMatch(new RegExp(`^${reference}: pulling, \\d`));
      expect(pull).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^${reference}: done \\(\\d`)) });
      expect((await cli(['images'])).stdout).toContain(reference);
      expect((await cli(['pull', reference])).stdout).toBe(`${reference}: already present\n`);
      const missing = await cli(['pull', `${registry.host}/cli/nothing:1`]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/pull failed: .*(not found|unknown)/i);
      await execFileAsync('docker', ['rmi', reference]).catch(() => undefined);
    } finally {
      await registry.destroy();
    }
  });

  it('events: prints what happens as it happens', async () => {
    const events = spawn(process.execPath, ['dist/cli/spin-docker.js', 'events', '--json'], {
      env: { PATH: process.env.PATH, SD_URL: `http://127.0.0.1:${h.port}`, SD_PASSWORD: PASSWORD },
    });
    let printed = '';
    events.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    try {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const id = (await cli(['run', TEST_IMAGES.noPorts])).stdout.trim();
      const line = await waitUntil(
        'the created event',
        async () => printed.split('\n').find((l) => l.includes('"container.created"') && l.includes(id)),
        15_000,
      );
      expect(JSON.parse(line)).toMatchObject({ id: expect.stringMatching(/^\d+-\d+$/), type: 'container.created', data: { container_id: id } });
    } finally {
      events.kill('SIGTERM');
    }
  });

  it('tells a script what went wrong: exit 4 for a wrong password, 1 for an unknown id, 3 for a server that is down, 2 for bad usage', async () => {
    const wrong = await cli(['ps'], { SD_PASSWORD: 'wrong' });
    expect(wrong).toMatchObject({ code: 4, stdout: '' });
    expect(wrong.stderr).toMatch(/^spin-docker: authentication failed: wrong password/);

    const unknown = await cli(['stop', 'abcdef123456']);
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toBe("spin-docker: abcdef123456: Container abcdef123456 doesn't exist (container_not_found)\n");

    const down = await cli(['ps'], { SD_URL: `http://127.0.0.1:${await freePort()}` });
    expect(down).toMatchObject({ code: 3, stdout: '' });
    expect(down.stderr).toMatch(/^spin-docker: cannot reach the server at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);

    expect((await cli(['frob'])).code).toBe(2);
    expect((await cli(['run'])).code).toBe(2);
    expect((await cli(['run', TEST_IMAGES.demo, '-e', 'NOEQUALS'])).code).toBe(2);
    const bad = await cli(['run', 'NOT A VALID IMAGE']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Image is not a valid image reference \(invalid_request\)/);
  });
});
