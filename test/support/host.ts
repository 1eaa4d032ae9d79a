import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitUntil } from './wait.js';

/**
 * Test hosts for `npm run test:deploy`: a fresh Debian 12 (a debootstrap'd root, cached, see
 * test/deploy/make-host-image.sh) booted with systemd as PID 1 in a container of this machine's Docker engine,
 * with room for a Docker engine of its own inside.
 */
const run = promisify(execFile);

export const HOST_IMAGE = 'spin-docker-test/debian12-host:latest';

export async function makeHostImage(): Promise<void> {
  await run('bash', ['test/deploy/make-host-image.sh', HOST_IMAGE], { maxBuffer: 16 * 1024 * 1024 });
}

/**
 * Boots a host named `name` (its Docker data in volume `volume`) and returns its address on the bridge, or on
 * `options.network` (a network of the test's own); its host name is `options.hostname` (spin-docker-host).
 */
export async function bootHost(
  name: string,
  volume: string,
  options: { readonly network?: string; readonly hostname?: string; readonly image?: string } = {},
): Promise<string> {
  // Every capability but one this machine lacks, the host's cgroup tree, tmpfs for /run, and a volume under
  // /var/lib/docker for overlay2.
  await run('docker', [
    'run',
    '-d',
    '--name',
    name,
    '--stop-signal',
    'SIGRTMIN+3',
    '--hostname',
    options.hostname ?? 'spin-docker-host',
    ...(options.network === undefined ? [] : ['--network', options.network]),
    '--label',
    'io.spin-docker.test=deploy',
    '--cap-add',
    'ALL',
    '--cap-drop',
    'SYS_RESOURCE',
    '--security-opt',
    'seccomp=unconfined',
    '--security-opt',
    'apparmor=unconfined',
    '--cgroupns=host',
    '-v',
    '/sys/fs/cgroup:/sys/fs/cgroup:rw',
    '--tmpfs',
    '/run',
    '--tmpfs',
    '/run/lock',
    '-v',
    `${volume}:/var/lib/docker`,
    options.image ?? HOST_IMAGE,
  ]);
  await waitUntil(
    'systemd to boot',
    async () => {
      const state = await run('docker', ['exec', name, 'systemctl', 'is-system-running']).then(
        (r) => r.stdout,
        (e: { stdout?: string }) => e.stdout ?? '',
      );
      return /running|degraded/.test(state) ? state : undefined;
    },
    90_000,
  );
  const format = options.network === undefined ? '{{.NetworkSettings.IPAddress}}' : `{{(index .NetworkSettings.Networks "${options.network}").IPAddress}}`;
  return (await run('docker', ['inspect', '-f', format, name])).stdout.trim();
}

export async function removeHost(name: string, volume: string): Promise<void> {
  await run('docker', ['rm', '-f', '-v', name]).catch(() => undefined);
  await run('docker', ['volume', 'rm', '-f', volume]).catch(() => undefined);
}
