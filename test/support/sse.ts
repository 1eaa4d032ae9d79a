import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createParser } from 'eventsource-parser';

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
export function openEvents(
  port: number,
  auth: [string, string],
  options: { lastEventId?: string; path?: string; host?: string; /** Over HTTPS, trusting this authority only. */ ca?: string } = {},
): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      authorization: `Basic ${Buffer.from(auth.join(':')).toString('base64')}`,
    };
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    const target = { host: options.host ?? '127.0.0.1', port, path: options.path ?? '/v1/events', headers };
    const req: ClientRequest = options.ca === undefined ? request(target) : httpsRequest({ ...target, ca: options.ca });
    req.once('error', reject);
    req.once('response', (response) => {
      const frames: SseFrame[] = [];
      const waiters = new Set<() => void>();
      let taken = 0;
      // The same parser as the CLI's (src/client/sse.ts), with comment lines kept as frames of their own.
      const parser = createParser({
        onEvent: (event) =>
          frames.push({ ...(event.id === undefined ? {} : { id: event.id }), ...(event.event === undefined ? {} : { event: event.event }), data: event.data }),
        onComment: (comment) => frames.push({ comment: comment.trim() }),
      });
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        parser.feed(chunk);
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
              fail(
                new Error(
                  `no matching event within ${timeoutMs} ms; ${frames.length} frames, the first: ${JSON.stringify(frames.slice(0, 3)).slice(0, 600)}; the last: ${JSON.stringify(frames.slice(-3)).slice(0, 600)}`,
                ),
              );
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
