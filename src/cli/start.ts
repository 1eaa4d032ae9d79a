import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../config/env.js';
import { createLogger, type Logger } from '../lifecycle/logger.js';

/**
 * `npm start`: runs the API and the worker, and, when REDIS_URL is unset, a private redis-server with
 * append-only persistence in SD_DATA_DIR/redis. If any of them dies, the rest are stopped too, so that a
 * supervisor (systemd, Docker) sees the failure; SIGTERM/SIGINT stop everything in order.
 */
const here = dirname(fileURLToPath(import.meta.url));

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolveWait, reject) => {
    const attempt = () => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolveWait();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

function startRedis(config: Config, logger: Logger): ChildProcess {
  const dir = resolve(join(config.dataDir, 'redis'));
  mkdirSync(dir, { recursive: true });
  logger.info({ dir, port: config.embeddedRedisPort }, 'starting private redis-server (append-only)');
  return spawn(
    'redis-server',
    ['--port', String(config.embeddedRedisPort), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--protected-mode', 'yes'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'spin-docker');
  const children: { name: string; child: ChildProcess }[] = [];
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    // The API and the worker first (in parallel), Redis last so that they can finish their writes.
    const apps = children.filter((c) => c.name !== 'redis');
    await Promise.all(apps.map(({ child }) => terminate(child)));
    await Promise.all(children.filter((c) => c.name === 'redis').map(({ child }) => terminate(child)));
    process.exit(code);
  };

  const watch = (name: string, child: ChildProcess) => {
    children.push({ name, child });
    child.once('exit', (exitCode, signal) => {
      if (stopping) return;
      logger.error({ process: name, exitCode, signal }, 'a process died; stopping the others');
      void stopAll(1);
    });
  };

  const env = { ...process.env };
  if (!config.redisUrlGiven) {
    watch('redis', startRedis(config, logger));
    await waitForPort(config.embeddedRedisPort, 10_000);
    env.REDIS_URL = config.redisUrl;
  }
  for (const name of ['api', 'worker'] as const) {
    watch(name, spawn(process.execPath, [join(here, '..', name, 'main.js')], { env, stdio: 'inherit' }));
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void stopAll(0));
}

function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.once('exit', () => {
      clearTimeout(force);
      done();
    });
    child.kill('SIGTERM');
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
