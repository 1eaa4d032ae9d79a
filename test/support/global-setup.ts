import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { TEST_IMAGES } from './images.js';
import { testRedisUrl } from './harness.js';

const SMALL_IMAGES: Record<string, string> = {
  [TEST_IMAGES.noPorts]: 'CMD ["sleep", "3600"]',
  [TEST_IMAGES.broken]: 'USER nobody-here\nCMD ["sleep", "3600"]',
  [TEST_IMAGES.stubborn]: 'EXPOSE 7000\nCMD ["sh", "-c", "trap \\"\\" TERM; while :; do sleep 1; done"]',
};

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Checks the real services are there and builds the test images (offline, a second or two each). */
export default async function setup(): Promise<void> {
  try {
    docker(['info', '--format', '{{.ServerVersion}}']);
  } catch {
    throw new Error('The integration tests need a running Docker engine (start dockerd; see README).');
  }
  const redis = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch {
    throw new Error(`The integration tests need Redis at ${testRedisUrl()} (set TEST_REDIS_URL; see README).`);
  } finally {
    redis.disconnect();
  }

  execFileSync('bash', ['images/build.sh', 'demo'], { stdio: 'inherit' });
  // The demo image with a 1-second reporting interval (images/demo is already prepared by build.sh).
  docker(['build', '-q', '--build-arg', 'CHECKIN_INTERVAL=1', '-t', TEST_IMAGES.fast, 'images/demo']);
  const context = mkdtempSync(join(tmpdir(), 'sd-images-'));
  try {
    copyFileSync('/bin/busybox', join(context, 'busybox'));
    for (const [tag, tail] of Object.entries(SMALL_IMAGES)) {
      const dockerfile = `FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n${tail}\n`;
      writeFileSync(join(context, 'Dockerfile'), dockerfile);
      docker(['build', '-q', '-t', tag, context]);
    }
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
