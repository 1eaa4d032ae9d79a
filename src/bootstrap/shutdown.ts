import type { Logger } from './logger.js';

export interface ShutdownStep {
  readonly name: string;
  close(): Promise<unknown>;
}

/**
 * An ordered, time-boxed shutdown that runs once: later calls return the same promise.
 * When the steps overrun `timeoutMs`, `onTimeout` is called (main.ts force-exits there).
 */
export function createShutdown(steps: readonly ShutdownStep[], logger: Logger, timeoutMs: number, onTimeout: () => void) {
  let running: Promise<void> | undefined;
  return function shutdown(reason: string): Promise<void> {
    running ??= (async () => {
      logger.info({ reason }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error({ timeoutMs }, 'shutdown timed out');
        onTimeout();
      }, timeoutMs);
      timer.unref();
      for (const step of steps) {
        try {
          await step.close();
        } catch (error) {
          logger.warn({ err: error, step: step.name }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      logger.info('shut down');
    })();
    return running;
  };
}

/** SIGTERM/SIGINT start the shutdown; a second signal exits at once. */
export function onSignals(shutdown: (reason: string) => Promise<void>, exit: (code: number) => void): void {
  let signalled = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (signalled) exit(1);
      signalled = true;
      void shutdown(signal).then(() => exit(0));
    });
  }
}
