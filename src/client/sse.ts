import { createParser } from 'eventsource-parser';

/** One Server-Sent Event as a client reads it. */
export interface SseEvent {
  readonly id: string | undefined;
  readonly type: string;
  readonly data: string;
}

/** Reads Server-Sent Events from a fetch body (eventsource-parser); comments (heartbeats) are skipped. */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const ready: SseEvent[] = [];
  const parser = createParser({ onEvent: (event) => ready.push({ id: event.id, type: event.event ?? 'message', data: event.data }) });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    yield* ready.splice(0);
  }
}
