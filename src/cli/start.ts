import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../config/env.js';
import { createLogger, type Logger } from '../bootstrap/logger.js';

/**
 * `npm start`: runs the API and the worker, and, when REDIS_URL is unset, a private redis-server with
 * append-only persistence in SD_DATA_DIR/redis. If any of them dies, the rest are stopped too, so that a
 * supervisor (systemd, Docker) sees the failure; SIGTERM/SIGINT (Ctrl-C) stop everything in order: the API
 * drains its requests, then the worker finishes its jobs, then Redis, which both were still writing to.
 * The children run in process groups of their own, so that Ctrl-C in a terminal (sent to the whole
 * foreground group) reaches only this process, which then stops them one after the other.
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
    [
      '--port',
      String(config.embeddedRedisPort),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--protected-mode',
      'yes',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], detached: true },
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
    let failed = false;
    for (const name of STOP_ORDER) {
      for (const { child } of children.filter((c) => c.name === name)) {
        const { exitCode, signal } = await terminate(child);
        logger.info({ process: name, exitCode, signal }, 'process stopped');
        if (exitCode !== 0) failed = true;
      }
    }
    process.exit(code !== 0 || failed ? 1 : 0);
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
    watch(name, spawn(process.execPath, [join(here, '..', name, 'main.js')], { env, stdio: 'inherit', detached: true }));
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void stopAll(0));
}

/** The API first (it stops taking requests), then the worker (it finishes its jobs), Redis last. */
const STOP_ORDER = ['api', 'worker', 'redis'] as const;

interface Ended {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** SIGTERM, then SIGKILL if it is still there after 40 s. */
function terminate(child: ChildProcess): Promise<Ended> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ exitCode: child.exitCode, signal: child.signalCode });
  return new Promise((done) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.once('exit', (exitCode, signal) => {
      clearTimeout(force);
      done({ exitCode, signal });
    });
    child.kill('SIGTERM');
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
