import { pipeline, type Readable } from 'node:stream';
import type { LogOptions } from '../../domain/ports.js';
import { DeadlineError, type EngineConnection } from './connection.js';
import { demuxTransform } from './demux.js';

/**
 * A log the engine keeps (`GET /containers/<id>/logs`, `GET /services/<id>/logs`), demultiplexed into stdout
 * and stderr lines, read as a stream with or without follow (never one body in memory: dockerode would buffer
 * a read without follow whole). Only opening it has a deadline: following lives as long as the container runs
 * or the caller listens. The reader's pace is the engine's: when nobody reads, the engine's stream is paused;
 * when the reader goes (`signal`) or either side fails, both are destroyed and the engine's request dropped.
 */
export async function engineLogs(engine: EngineConnection, path: string, options: LogOptions, signal: AbortSignal): Promise<Readable> {
  const reading = new AbortController();
  const deadline = setTimeout(() => reading.abort(new DeadlineError(engine.timeoutMs)), engine.timeoutMs);
  const stop = () => reading.abort();
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });
  let engineStream: Readable;
  try {
    const query = { stdout: true, stderr: true, tail: options.tail, timestamps: options.timestamps, follow: options.follow };
    engineStream = await engine.call(options.follow ? 'follow the logs' : 'read the logs', () => open(engine, path, query, reading.signal));
  } catch (error) {
    signal.removeEventListener('abort', stop);
    throw error;
  } finally {
    clearTimeout(deadline);
  }
  const lines = demuxTransform();
  pipeline(engineStream, lines, () => signal.removeEventListener('abort', stop));
  reading.signal.addEventListener('abort', () => lines.destroy(), { once: true });
  if (reading.signal.aborted) lines.destroy();
  return lines;
}

function open(engine: EngineConnection, path: string, query: Record<string, unknown>, abortSignal: AbortSignal): Promise<Readable> {
  const modem = engine.docker.modem as { dial(options: object, callback: (error: unknown, data: unknown) => void): void };
  return new Promise((resolve, reject) => {
    modem.dial(
      {
        path: `${path}?`,
        method: 'GET',
        abortSignal,
        isStream: true,
        statusCodes: { 200: true, 404: 'no such container or service', 500: 'server error', 503: 'node is not part of a swarm' },
        options: query,
      },
      (error, data) => (error ? reject(error as Error) : resolve(data as Readable)),
    );
  });
}
