import { ConfigError, loadConfig } from '../config/env.js';
import { buildDeps, type Deps } from '../bootstrap/deps.js';
import type { Server } from 'node:http';
import { createLogger } from '../bootstrap/logger.js';
import { serveMetrics } from '../adapters/prometheus/metrics.js';
import { createShutdown, onSignals } from '../bootstrap/shutdown.js';
import { startWorker, type RunningWorker } from './start.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'spin-docker-worker');
  // Filled in as start-up goes on; the shutdown closes whatever is there by then.
  const started: { deps?: Deps; worker?: RunningWorker; metrics?: Server } = {};
  // Signals are handled from the first moment: a stop during start-up is a stop, not a crash.
  const shutdown = createShutdown(
    [
      { name: 'finish jobs in hand', close: async () => started.worker?.close() },
      {
        name: 'stop serving metrics',
        close: async () => new Promise<void>((resolve) => (started.metrics ? started.metrics.close(() => resolve()) : resolve())),
      },
      { name: 'close queues and Redis', close: async () => started.deps?.close() },
    ],
    logger,
    Math.max(30_000, (config.stopTimeout + config.dockerTimeout + 20) * 1000),
    () => process.exit(1),
  );
  onSignals(shutdown, (code) => process.exit(code));

  started.deps = await buildDeps(config, logger, { role: 'worker' });
  started.worker = startWorker(started.deps);
  // A port that is taken costs the metrics, not the worker: it says so and goes on.
  started.metrics = await serveMetrics(started.deps.metrics, config.workerMetricsHost, config.workerMetricsPort).catch((error: NodeJS.ErrnoException) => {
    logger.warn({ err: error.code ?? error.message }, `cannot serve metrics on ${config.workerMetricsHost}:${config.workerMetricsPort}`);
    return undefined;
  });
  logger.info({ instance: config.instance, concurrency: config.workerConcurrency, disableTimeouts: config.disableTimeouts }, 'worker started');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
