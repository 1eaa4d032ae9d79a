import { ConfigError, loadConfig } from '../config/env.js';
import { buildDeps } from '../lifecycle/deps.js';
import { createLogger } from '../lifecycle/logger.js';
import { createShutdown, onSignals } from '../lifecycle/shutdown.js';
import { startWorkers } from './workers.js';

/** How often the worker makes sure every unfinished stop, delete and check has its job. */
const RESUME_EVERY_MS = 60_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'spin-docker-worker');
  const deps = await buildDeps(config, logger, { role: 'worker' });
  const workers = startWorkers({
    redis: deps.redis,
    instance: config.instance,
    concurrency: config.workerConcurrency,
    service: deps.service,
    logger,
  });
  logger.info({ instance: config.instance, concurrency: config.workerConcurrency, disableTimeouts: config.disableTimeouts }, 'worker started');

  const resume = async (everything: boolean) => {
    try {
      const counts = await deps.service.resumePending({ everything });
      logger.info(counts, 'pending work resumed');
    } catch (error) {
      logger.warn({ err: error }, 'could not resume pending work; will try again');
    }
  };
  await resume(true);
  const timer = setInterval(() => void resume(false), RESUME_EVERY_MS);

  const shutdown = createShutdown(
    [
      { name: 'stop resuming', run: async () => clearInterval(timer) },
      // Worker.close() waits for the jobs in hand to finish.
      { name: 'finish jobs in hand', run: () => Promise.all(workers.map((w) => w.close())) },
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
