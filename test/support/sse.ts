import { request, type ClientRequest, type IncomingMessage } from 'node:http';

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  /** A comment line (": ping"). */
  comment?: string;
}

export interface SseClient {
  readonly response: IncomingMessage;
  readonly frames: SseFrame[];
  /** The next frame (from the one after the last taken) that matches, waiting up to `timeoutMs`. */
  next(match: (frame: SseFrame) => boolean, timeoutMs?: number): Promise<SseFrame>;
  close(): void;
}

/** A small Server-Sent Events client over node:http, so that tests see the frames exactly as sent. */
export function openEvents(port: number, auth: [string, string], options: { lastEventId?: string; path?: string; host?: string } = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      authorization: `Basic ${Buffer.from(auth.join(':')).toString('base64')}`,
    };
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    const req: ClientRequest = request({ host: options.host ?? '127.0.0.1', port, path: options.path ?? '/v1/events', headers });
    req.once('error', reject);
    req.once('response', (response) => {
      const frames: SseFrame[] = [];
      const waiters = new Set<() => void>();
      let taken = 0;
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
        let end: number;
        while ((end = text.indexOf('\n\n')) !== -1) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const frame: SseFrame = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) frame.comment = line.slice(1).trim();
            const match = /^(id|event|data): ?(.*)$/.exec(line);
            if (match) frame[match[1] as 'id' | 'event' | 'data'] = match[2];
          }
          frames.push(frame);
        }
        waiters.forEach((wake) => wake());
      });
      response.on('error', () => undefined);
      resolve({
        response,
        frames,
        next(match, timeoutMs = 20_000) {
          return new Promise((found, fail) => {
            const look = () => {
              while (taken < frames.length) {
                const frame = frames[taken++] as SseFrame;
                if (match(frame)) {
                  waiters.delete(look);
                  clearTimeout(timer);
                  found(frame);
                  return;
                }
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(look);
              fail(new Error(`no matching event within ${timeoutMs} ms; ${frames.length} frames, the first: ${JSON.stringify(frames.slice(0, 3)).slice(0, 600)}; the last: ${JSON.stringify(frames.slice(-3)).slice(0, 600)}`));
            }, timeoutMs);
            waiters.add(look);
            look();
          });
        },
        close() {
          req.destroy();
        },
      });
    });
    req.end();
  });
}
