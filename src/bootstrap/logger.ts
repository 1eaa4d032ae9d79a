import { pino, type Logger } from 'pino';

export type { Logger };

/** One root logger per process; children carry requestId, jobId, containerId. */
export function createLogger(level: string, name: string): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
