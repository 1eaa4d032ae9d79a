import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { TEST_IMAGES } from './images.js';
import { testRedisUrl } from './harness.js';
import { freePort } from './net.js';

const SMALL_IMAGES: Record<string, string> = {
  [TEST_IMAGES.noPorts]: 'CMD ["sleep", "3600"]',
  [TEST_IMAGES.broken]: 'USER nobody-here\nCMD ["sleep", "3600"]',
  [TEST_IMAGES.httpd]: 'EXPOSE 80\nCMD ["httpd", "-f", "-p", "80", "-h", "/bin"]',
  [TEST_IMAGES.chatty]: 'CMD ["sh", "-c", "i=0; while :; do i=$((i+1)); echo out-$i; echo err-$i >&2; sleep 0.2; done"]',
  [TEST_IMAGES.exits]: 'EXPOSE 80\nCMD ["true"]',
  [TEST_IMAGES.volume]: 'EXPOSE 80\nVOLUME /data\nCMD ["httpd", "-f", "-p", "80", "-h", "/data"]',
  [TEST_IMAGES.flood]: 'CMD ["yes", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]',
  [TEST_IMAGES.stubborn]: 'EXPOSE 7000\nCMD ["sh", "-c", "trap \\"\\" TERM; while :; do sleep 1; done"]',
  [TEST_IMAGES.echo]: 'EXPOSE 7000\nCMD ["sh", "-c", "sleep 1; exec nc -ll -p 7000 -e /bin/cat"]',
};

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function answersPing(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      if ((await redis.ping()) === 'PONG') return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      redis.disconnect();
    }
  }
  return false;
}

let privateRedis: ChildProcess | undefined;

/**
 * Builds the image kit (and the test's fast-reporting postgres) in the background; the outcome lands in
 * SD_KIT_BUILD_STATUS (the exit code), the output in SD_KIT_BUILD_LOG, for kit.test.ts.
 */
function startKitBuild(): void {
  const dir = mkdtempSync(join(tmpdir(), 'sd-kit-build-'));
  const status = join(dir, 'status');
  const log = join(dir, 'build.log');
  const script = [
    'bash images/build.sh base postgres django redis mongo',
    `printf 'FROM ${TEST_IMAGES.postgres}\\nENV SD_CHECKIN_INTERVAL=1\\n' | docker build -q -t ${TEST_IMAGES.postgresFast} -`,
  ].join(' && ');
  const child = spawn('bash', ['-c', `(${script}) >"$1" 2>&1; echo $? >"$2.partial" && mv "$2.partial" "$2"`, 'kit-build', log, status], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  process.env.SD_KIT_BUILD_STATUS = status;
  process.env.SD_KIT_BUILD_LOG = log;
}

/**
 * Unless TEST_REDIS_URL names one, the tests get a private, throw-away redis-server on a free loopback
 * port (the test workers inherit its URL), so they never touch a Redis that holds real data.
 */
async function startPrivateRedis(): Promise<void> {
  if (process.env.TEST_REDIS_URL) return;
  const port = await freePort();
  privateRedis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  privateRedis.once('error', () => undefined);
  process.env.TEST_REDIS_URL = `redis://127.0.0.1:${port}`;
}

/** Checks the real services are there and builds the test images (offline, a second or two each). */
export default async function setup(): Promise<() => void> {
  try {
    docker(['info', '--format', '{{.ServerVersion}}']);
  } catch {
    throw new Error('The integration tests need a running Docker engine (start dockerd; see README).');
  }
  await startPrivateRedis();
  if (!(await answersPing(testRedisUrl(), 10_000))) {
    throw new Error(`The integration tests need Redis at ${testRedisUrl()} (install redis-server, or set TEST_REDIS_URL).`);
  }

  execFileSync('bash', ['images/build.sh', 'demo'], { stdio: 'inherit' });
  // The rest of the kit builds meanwhile: a cold machine debootstraps the Debian base and installs packages
  // from its mirror (about 2 minutes, mostly waiting on the network); later runs reuse Docker's build cache.
  // kit.test.ts waits for it (and runs last: test/support/sequencer.ts).
  startKitBuild();
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
  return () => {
    privateRedis?.kill('SIGTERM');
  };
}
