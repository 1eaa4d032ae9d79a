import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Docker from 'dockerode';
import supertest from 'supertest';
import { buildApp } from '../../src/api/app.js';
import { INSTANCE_LABEL } from '../../src/adapters/docker/docker.runtime.js';
import { keyPrefix } from '../../src/adapters/redis/keys.js';
import { loadConfig } from '../../src/config/env.js';
import { buildDeps, type Deps } from '../../src/bootstrap/deps.js';
import { createLogger } from '../../src/bootstrap/logger.js';
import { startWorker, type RunningWorker } from '../../src/worker/start.js';

export const PASSWORD = 'test-password';

export function testRedisUrl(): string {
  return process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export interface Harness {
  /** supertest against the running API, with the admin credentials already set by `auth`. */
  readonly http: ReturnType<typeof supertest>;
  readonly auth: [string, string];
  /** The API's deps (role api) and the worker's deps (role worker), as in two processes. */
  readonly api: Deps;
  readonly worker: Deps;
  readonly instance: string;
  readonly port: number;
  /** The test's own client of the engine, for what a test does behind the server's back. */
  readonly docker: Docker;
  /** Stops the API and the worker as a crash would leave things: containers and keys stay. */
  stop(): Promise<void>;
  /** Stops them and removes this instance's containers and keys. */
  close(): Promise<void>;
}

/**
 * Runs the real API (listening on 0.0.0.0 and an ephemeral port, so containers can check in through the
 * bridge) and the real worker (BullMQ workers and the Docker event follower) in this process, on real Redis and Docker. Isolated by a fresh
 * SD_INSTANCE: its own Docker label, Redis prefix and queues, all removed by close().
 */
export async function startHarness(env: Record<string, string> = {}, options: { worker?: boolean } = {}): Promise<Harness> {
  const instance = env.SD_INSTANCE ?? `test-${randomBytes(4).toString('hex')}`;
  // Each test instance its own block of host ports, so that instances never hand out the same one.
  const block = 20000 + 100 * Math.floor(Math.random() * 99);
  const config = loadConfig({
    SD_PORT_RANGE: `${block}-${block + 99}`,
    SD_PASSWORD: PASSWORD,
    SD_INSTANCE: instance,
    SD_ENVIRONMENT: 'test',
    // The tests' registries run on loopback.
    SD_ALLOWED_REGISTRIES: '127.0.0.1:*',
    SD_STOP_TIMEOUT: '3',
    SD_LOG_LEVEL: process.env.SD_LOG_LEVEL ?? 'silent',
    REDIS_URL: testRedisUrl(),
    ...env,
  });
  const logger = createLogger(config.logLevel, 'test');
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  const port = (server.address() as AddressInfo).port;

  const worker = await buildDeps(config, logger.child({ process: 'worker' }), { role: 'worker' });
  const gateway = await worker.runtime.gatewayAddress();
  const api = await buildDeps(config, logger.child({ process: 'api' }), {
    role: 'api',
    checkinUrl: `http://${gateway}:${port}/v1/check-in`,
  });
  server.on('request', buildApp(api));
  // Without a worker (options.worker false) nothing follows Docker, so the API's own audit can be observed.
  const running: RunningWorker | undefined = options.worker === false ? undefined : startWorker(worker);
  await running?.ready;

  const docker = new Docker({
    socketPath: (config.dockerHost.startsWith('unix://') ? config.dockerHost : 'unix:///var/run/docker.sock').slice('unix://'.length),
  });
  return {
    http: supertest(server),
    docker,
    auth: ['admin', config.password],
    api,
    worker,
    instance,
    port,
    async stop() {
      await running?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await api.close();
      await worker.close();
    },
    async close() {
      await running?.close();
      await removeContainers(docker, instance);
      await deleteKeys(worker, `${keyPrefix(instance)}*`);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await api.close();
      await worker.close();
    },
  };
}

/** Clean-up by label: every container of this test instance, whatever state it is in. */
async function removeContainers(docker: Docker, instance: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${instance}`] } });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined),
    ),
  );
}

/** Clean-up by prefix (SCAN is fine in tests; the server itself never scans). */
async function deleteKeys(deps: Deps, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await deps.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    if (keys.length > 0) await deps.redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
