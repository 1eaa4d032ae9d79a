import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootHost, makeHostImage, removeHost } from '../support/host.js';
import { waitUntil } from '../support/wait.js';

/**
 * The README's two commands on a machine that has nothing: the cached Debian 12 root (no Node.js, no Docker,
 * no Redis, no curl) booted with systemd, the repository copied in, then `bash scripts/quickstart.sh` until
 * the API answers and the demo image starts, then `npm test` to a green end. `npm run test:deploy`.
 */
const run = promisify(execFile);
const suffix = randomBytes(3).toString('hex');
const host = `sd-fresh-${suffix}`;
const dockerVolume = `sd-fresh-docker-${suffix}`;
const REPO = '/root/spin-docker';
const LOCAL_CAS = '/usr/local/share/ca-certificates';
let address = '';

const inHost = async (command: string, timeoutMs = 120_000) =>
  (await run('docker', ['exec', host, 'bash', '-c', command], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })).stdout;

/**
 * The API as the host's own user reaches it (curl on the host, to loopback): with the default password the
 * quick start's server answers only this host and its containers.
 */
async function api(method: string, path: string, body?: Record<string, string>) {
  const data = body === undefined ? '' : `--data '${new URLSearchParams(body).toString()}'`;
  const out = await inHost(`curl -s -m 30 -u admin:spindocker -X ${method} ${data} -w '\\n%{http_code}' http://127.0.0.1:8080${path}`);
  const lines = out.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { status, body: JSON.parse(lines.join('\n')) as Record<string, string> & unknown[] };
}

beforeAll(async () => {
  await makeHostImage();
  address = await bootHost(host, dockerVolume);
  // This machine reaches the registries through a TLS-inspecting proxy: the host trusts what we trust, as
  // any machine here does. Nothing else is added.
  if (existsSync(LOCAL_CAS)) {
    for (const file of readdirSync(LOCAL_CAS).filter((f) => f.endsWith('.crt'))) {
      await run('docker', ['cp', join(LOCAL_CAS, file), `${host}:${LOCAL_CAS}/${file}`]);
    }
    await inHost('update-ca-certificates >/dev/null');
  }
  // Nor does it know the npm registry: a machine here is told it (npm's own configuration file), as it is told
  // its CAs; scripts/install-node.sh reads it from there while there is no npm yet.
  const registry = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
  await inHost(`printf 'registry=%s\\n' '${registry}' >/root/.npmrc`);
  // The repository as a clone would have it: the files git knows, as they are in the working tree.
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { encoding: 'buffer' });
  await inHost(`mkdir -p ${REPO}`);
  execFileSync('bash', ['-c', `tar --null -T - -cf - | docker exec -i ${host} tar -C ${REPO} -xf -`], { input: files, maxBuffer: 64 * 1024 * 1024 });
}, 600_000);

afterAll(async () => {
  await removeHost(host, dockerVolume);
});

describe("the README's two commands on a machine that has nothing", () => {
  it('has no Node.js, Docker or Redis to begin with', async () => {
    expect(await inHost('for c in node npm docker dockerd redis-server curl; do command -v $c || echo "no $c"; done')).toMatch(
      /^no node\nno npm\nno docker\nno dockerd\nno redis-server\nno curl\n$/,
    );
  });

  it('bash scripts/quickstart.sh installs everything and serves the API, which starts the demo image', async () => {
    const started = Date.now();
    await inHost(`cd ${REPO} && { nohup bash scripts/quickstart.sh >/root/quickstart.log 2>&1 & echo $! >/root/quickstart.pid; }`);
    const outcome = await waitUntil(
      'the API of the quick start',
      async () => {
        const res = await api('GET', '/v1/images').catch(() => undefined);
        if (res?.status === 200) return { images: res.body };
        // Still installing, unless the script has ended (then there is nothing to wait for).
        const alive = await inHost('kill -0 "$(cat /root/quickstart.pid)" 2>/dev/null && echo yes || echo no');
        return alive.trim() === 'no' ? { ended: await inHost('tail -40 /root/quickstart.log') } : undefined;
      },
      1_500_000,
    );
    if ('ended' in outcome) throw new Error(`the quick start ended:\n${outcome.ended}`);
    const { images } = outcome;
    process.stdout.write(`quick start on a bare Debian 12: API up after ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    expect(images).toContain('spin-docker/demo:latest');
    expect(await inHost('node --version')).toMatch(/^v24\./);

    const created = await api('POST', '/v1/containers', { image: 'spin-docker/demo' });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('running');
    const page = await inHost(`curl -fsS http://127.0.0.1:${created.body.app_port}/`);
    expect(page).toMatch(/spin-docker/i);
    // From another machine (this one), the default password is refused with a message naming SD_PASSWORD.
    const remote = await fetch(`http://${address}:8080/v1/images`, {
      headers: { authorization: `Basic ${Buffer.from('admin:spindocker').toString('base64')}` },
      signal: AbortSignal.timeout(10_000),
    });
    expect(remote.status).toBe(403);
    expect(((await remote.json()) as { code: string; message: string }).message).toMatch(/SD_PASSWORD/);
  }, 1_600_000);

  it('npm test passes there', async () => {
    const started = Date.now();
    let output = '';
    try {
      output = await inHost(`cd ${REPO} && CI=true NO_COLOR=1 npm test 2>&1`, 1_500_000);
    } catch (error) {
      const e = error as { stdout?: string };
      throw new Error(`npm test failed on the fresh host:\n${(e.stdout ?? '').slice(-8000)}`);
    }
    process.stdout.write(`npm test on the fresh host: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    // (npm test exited 0, or inHost would have thrown; the summary says what ran.)
    expect(output).toMatch(/Test Files\s+\d+ passed \(\d+\)/);
    expect(output).toMatch(/Tests\s+\d+ passed \(\d+\)/);
  }, 1_600_000);
});
