import { createServer, type Server } from 'node:http';
import { ConfigError, loadConfig } from '../config/env.js';
import { buildDeps, type Deps } from '../bootstrap/deps.js';
import { createLogger } from '../bootstrap/logger.js';
import { createShutdown, onSignals } from '../bootstrap/shutdown.js';
import { buildApp } from './app.js';
import { OpenStreams } from './middleware/streams.js';

/** The address could not be had: the process must say so and fail, so that its supervisor sees it. */
class ListenError extends Error {}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => reject(new ListenError(`cannot listen on ${host}:${port}: ${error.code ?? error.message}`));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'spin-docker-api');
  // Filled in as start-up goes on; the shutdown closes whatever is there by then.
  const started: { deps?: Deps; server?: Server } = {};
  // Followed logs and event streams never end by themselves: the shutdown ends them (their clients reconnect).
  const streams = new OpenStreams();
  // Signals are handled from the first moment: a stop during start-up is a stop, not a crash.
  const shutdown = createShutdown(
    [
      {
        name: 'stop accepting and drain requests',
        close: () =>
          new Promise<void>((resolve) => {
            const { server } = started;
            if (server?.listening !== true) return resolve();
            // An ended stream's connection (and a finished request's) turns idle once its last bytes are out.
            const idle = setInterval(() => server.closeIdleConnections(), 100);
            server.close(() => {
              clearInterval(idle);
              resolve();
            });
            streams.endAll();
            server.closeIdleConnections();
          }),
      },
      { name: 'close queues and Redis', close: async () => started.deps?.close() },
    ],
    logger,
    15_000,
    () => process.exit(1),
  );
  onSignals(shutdown, (code) => process.exit(code));

  const deps = await buildDeps(config, logger, { role: 'api' });
  started.deps = deps;
  const server = createServer(buildApp({ ...deps, streams }));
  started.server = server;
  // Idle keep-alive sockets must not hold the shutdown up; in-flight requests still finish.
  server.keepAliveTimeout = 5_000;
  try {
    await listen(server, config.port, config.host);
  } catch (error) {
    await deps.close();
    throw error;
  }
  logger.info({ host: config.host, port: config.port, instance: config.instance }, 'API listening');
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigError || error instanceof ListenError;
  process.stderr.write(`${known ? (error as Error).message : String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
