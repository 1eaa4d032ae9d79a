import type Docker from 'dockerode';
import type { EngineEvents } from '../../domain/ports.js';
import { LABELS } from '../../domain/containers/labels.js';
import { DeadlineError, type EngineConnection } from './connection.js';

/** The engine's events that change a container's state as we record it. */
const WATCHED_EVENTS = ['start', 'die', 'destroy'];
/** The engine's events that change which tagged images it has. */
const IMAGE_EVENTS = ['pull', 'tag', 'untag', 'delete', 'import', 'load'];

/**
 * Splits a stream of newline-delimited JSON (the engine's events, a pull's progress) and hands on every object;
 * a line that is not JSON is skipped.
 */
export function jsonLines(onObject: (value: unknown) => void): (chunk: Buffer | string) => void {
  let buffered = '';
  return (chunk) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        continue;
      }
      onObject(value);
    }
  };
}

/**
 * Hands on the id of every container event. A line that cannot be read names no container; the
 * reconciliation after any gap covers it.
 */
export function eventIds(onId: (id: string) => void): (chunk: Buffer | string) => void {
  return jsonLines((value) => {
    const event = value as { Type?: string; id?: string; Actor?: { ID?: string } } | null;
    const id = event?.Actor?.ID ?? event?.id;
    if ((event?.Type === undefined || event.Type === 'container') && typeof id === 'string') onId(id);
  });
}

/** The engine's event stream, for this installation's containers and for images. */
export class DockerEvents implements EngineEvents {
  constructor(
    private readonly engine: EngineConnection,
    private readonly instance: string,
  ) {}

  watch(onChange: (id: string) => void, signal: AbortSignal): Promise<{ readonly closed: Promise<void> }> {
    const filters = { type: ['container'], label: [`${LABELS.instance}=${this.instance}`], event: WATCHED_EVENTS };
    return this.follow(filters, eventIds(onChange), signal);
  }

  watchImages(onChange: () => void, signal: AbortSignal): Promise<{ readonly closed: Promise<void> }> {
    return this.follow({ type: ['image'], event: IMAGE_EVENTS }, () => onChange(), signal);
  }

  /**
   * Follows the engine's event stream with these filters until `signal` aborts; only opening it has a
   * deadline. Resolves once it is open, with `closed`, which settles when it ends, fails or is aborted.
   */
  async follow(filters: Record<string, string[]>, onData: (chunk: Buffer | string) => void, signal: AbortSignal): Promise<{ readonly closed: Promise<void> }> {
    const opening = new AbortController();
    const stopOpening = () => opening.abort(signal.reason);
    signal.addEventListener('abort', stopOpening, { once: true });
    const deadline = setTimeout(() => opening.abort(new DeadlineError()), this.engine.timeoutMs);
    let stream: NodeJS.ReadableStream & { destroy?: () => void };
    try {
      stream = (await this.engine.call('follow events', () =>
        this.engine.docker.getEvents({ filters, abortSignal: opening.signal } as Parameters<Docker['getEvents']>[0]),
      )) as NodeJS.ReadableStream & { destroy?: () => void };
    } finally {
      clearTimeout(deadline);
      signal.removeEventListener('abort', stopOpening);
    }
    const closed = new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', abort);
        resolve();
      };
      const abort = () => {
        stream.destroy?.();
        done();
      };
      stream.on('data', onData);
      stream.once('end', done);
      stream.once('close', done);
      // `on`, not `once`: a stream may report more than one error, and none may go unhandled.
      stream.on('error', done);
      signal.addEventListener('abort', abort, { once: true });
      if (signal.aborted) abort();
    });
    return { closed };
  }
}
