import { ConfigError, loadConfig } from '../config/env.js';
import { buildDeps } from '../lifecycle/deps.js';
import { createLogger } from '../lifecycle/logger.js';
import { createShutdown, onSignals } from '../lifecycle/shutdown.js';
import { runWorker } from './runner.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'spin-docker-worker');
  const deps = await buildDeps(config, logger, { role: 'worker' });
  const worker = await runWorker(deps);
  logger.info({ instance: config.instance, concurrency: config.workerConcurrency, disableTimeouts: config.disableTimeouts }, 'worker started');

  const shutdown = createShutdown(
    [
      { name: 'finish jobs in hand', run: () => worker.close() },
      { name: 'close queues and Redis', run: () => deps.close() },
    ],
    logger,
    Math.max(30_000, (config.stopTimeout + 20) * 1000),
    () => process.exit(1),
  );
  onSignals(shutdown, (code) => process.exit(code));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
