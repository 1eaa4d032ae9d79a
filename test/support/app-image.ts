import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HOST_IMAGE, makeHostImage } from './host.js';

/**
 * The base images of spin-docker's own image (Dockerfile), made locally: no registry is reachable here, so Node
 * comes from this machine's own binary and npm on the test's Debian 12 root file system, and Redis from Debian's
 * package. Used by the deployments that run the image: compose, the swarm's stack.
 */
const run = promisify(execFile);
export const NODE_IMAGE = 'spin-docker-test/node:20';
export const REDIS_IMAGE = 'spin-docker-test/redis:7';

export async function buildImage(tag: string, dockerfile: string, files: Record<string, string> = {}): Promise<void> {
  const context = mkdtempSync(join(tmpdir(), 'sd-base-'));
  try {
    for (const [name, source] of Object.entries(files)) cpSync(source, join(context, name), { recursive: true, dereference: true });
    writeFileSync(join(context, 'Dockerfile'), dockerfile);
    await run('docker', ['build', '-q', '-t', tag, context], { maxBuffer: 16 * 1024 * 1024 });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** NODE_IMAGE and REDIS_IMAGE on this machine's engine. */
export async function makeBaseImages(): Promise<void> {
  await makeHostImage();
  await buildImage(
    NODE_IMAGE,
    [
      `FROM ${HOST_IMAGE}`,
      'COPY node /usr/local/bin/node',
      'COPY npm /usr/local/lib/node_modules/npm',
      // This machine reaches the npm registry through a TLS-inspecting proxy: trust what the machine trusts.
      'COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt',
      'RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm',
      'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
      'CMD ["node"]',
    ].join('\n'),
    { node: process.execPath, npm: '/usr/lib/node_modules/npm', 'ca-certificates.crt': '/etc/ssl/certs/ca-certificates.crt' },
  );
  await buildImage(
    REDIS_IMAGE,
    [
      `FROM ${HOST_IMAGE}`,
      'RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/*',
      'WORKDIR /data',
      'CMD ["redis-server"]',
    ].join('\n'),
  );
}

/** spin-docker's image from this working tree's Dockerfile, on the local base images. */
export async function buildAppImage(tag: string): Promise<void> {
  await makeBaseImages();
  await run('docker', ['build', '-q', '--build-arg', `NODE_IMAGE=${NODE_IMAGE}`, '-t', tag, '.'], { maxBuffer: 16 * 1024 * 1024, timeout: 900_000 });
}
