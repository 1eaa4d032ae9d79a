import type { Server } from 'node:http';
import { ConfigError, loadConfig } from '../config/env.js';
import { buildDeps } from '../lifecycle/deps.js';
import { createLogger } from '../lifecycle/logger.js';
import { createShutdown, onSignals } from '../lifecycle/shutdown.js';
import { buildApp } from './app.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'spin-docker-api');
  const deps = await buildDeps(config, logger, { role: 'api' });
  const app = buildApp(deps);
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  // Idle keep-alive sockets must not hold the shutdown up; in-flight requests still finish.
  server.keepAliveTimeout = 5_000;
  logger.info({ host: config.host, port: config.port, instance: config.instance }, 'API listening');

  const shutdown = createShutdown(
    [
      {
        name: 'stop accepting and drain requests',
        run: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
          }),
      },
      { name: 'close queues and Redis', run: () => deps.close() },
    ],
    logger,
    15_000,
    () => process.exit(1),
  );
  onSignals(shutdown, (code) => process.exit(code));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
