import type { Response } from 'express';

/**
 * A signal that fires when the client goes away, also when it has gone already: a client that sends its
 * request and leaves at once is gone before the handler runs (during the login check, say), and a `close`
 * listener attached then would never fire.
 */
export function clientGone(res: Response): AbortSignal {
  const gone = new AbortController();
  if (res.destroyed) gone.abort();
  else res.once('close', () => gone.abort());
  return gone.signal;
}

/**
 * The answers that stream until the client leaves (followed logs, event streams): a shutdown ends them, so
 * that the process can drain and exit rather than wait for clients that never leave (they reconnect).
 */
export class OpenStreams {
  private readonly open = new Set<Response>();

  add(res: Response): void {
    this.open.add(res);
    res.once('close', () => this.open.delete(res));
  }

  get size(): number {
    return this.open.size;
  }

  /** Ends every open stream. */
  endAll(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }
}
