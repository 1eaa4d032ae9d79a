import { Router } from 'express';
import type { EventLog, StoredEvent } from '../../domain/ports.js';
import { compareEventIds } from '../../domain/events.js';
import { methodNotAllowed } from '../middleware/errors.js';
import { parseInput } from '../middleware/validate.js';
import type { Present } from '../presenters/container.presenter.js';
import { eventFrame } from '../presenters/event.presenter.js';
import { eventsSchema } from './events.schemas.js';
import { clientGone, type OpenStreams } from '../middleware/streams.js';

export interface EventsOptions {
  /** Between comment lines on an idle stream. */
  readonly heartbeatMs: number;
  /** A client that lets this much go unread is cut off (it reconnects with Last-Event-ID). */
  readonly maxBufferedBytes?: number;
  /** How a container is presented in an event. */
  readonly present?: Present;
  /** Live events held for a client while it catches up; one that needs more is cut off (it resumes). */
  readonly maxQueued?: number;
  /** The longest a catch-up may take; a client still catching up then is cut off (it resumes from what it got). */
  readonly catchUpMs?: number;
  /** Where open streams are kept, so that a shutdown can end them. */
  readonly streams?: OpenStreams;
}

const CATCH_UP_PAGE = 500;

/**
 * `GET /v1/events`: Server-Sent Events from the shared event log. With `Last-Event-ID` (or `last_event_id`) it
 * first sends what came after that id, then live events, with no gap and no repeat; when the log no longer
 * holds everything after that id, an `events.gap` event says so first.
 */
export function eventsRoutes(log: Pick<EventLog, 'after' | 'subscribe'>, options: EventsOptions): Router {
  const router = Router();
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  const maxQueued = options.maxQueued ?? 10_000;
  const catchUpMs = options.catchUpMs ?? 60_000;
  router
    .route('/')
    .get(async (req, res) => {
      const { last_event_id: resumeFrom } = parseInput(eventsSchema, {
        ...(req.query as Record<string, unknown>),
        ...(req.get('last-event-id') === undefined ? {} : { last_event_id: req.get('last-event-id') }),
      });
      // Listened for before anything is awaited: a client that left meanwhile leaves nothing behind.
      const gone = clientGone(res);
      if (gone.aborted) return;
      let sent = resumeFrom;
      let live = false;
      const buffered: StoredEvent[] = [];
      const queue = (event: StoredEvent) => {
        // Live events wait while the client catches up, but not without end: one that falls this far behind
        // is cut off, and resumes from what it got.
        if (buffered.length >= maxQueued) res.destroy();
        else buffered.push(event);
      };
      // Nothing is written once the stream is ended (a shutdown ends it while events may still come).
      const write = (text: string) => {
        if (!res.writableEnded && !res.destroyed) res.write(text);
      };
      const send = (event: StoredEvent) => {
        if (sent !== undefined && compareEventIds(event.eventId, sent) <= 0) return;
        sent = event.eventId;
        write(eventFrame(event, options.present));
        // Live events cannot wait for a slow reader: one that lets too much pile up is cut off, and
        // resumes with Last-Event-ID when it reconnects.
        if (live && res.writableLength > maxBuffered) res.destroy();
      };
      const drained = () =>
        res.writableNeedDrain
          ? new Promise<void>((resolve) => {
              const done = () => {
                res.off('drain', done).off('close', done);
                resolve();
              };
              res.on('drain', done).on('close', done);
            })
          : Promise.resolve();
      const unsubscribe = await log.subscribe((event) => (live ? send(event) : queue(event)));
      if (gone.aborted) {
        unsubscribe();
        return;
      }
      // The answer starts once the subscription has: a client that sees the headers misses nothing after them.
      res.status(200).set({
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Accel-Buffering': 'no',
        Connection: 'keep-alive',
      });
      res.flushHeaders();
      req.socket.setNoDelay(true);
      write('retry: 2000\n\n');
      const heartbeat = setInterval(() => write(': ping\n\n'), options.heartbeatMs);
      gone.addEventListener(
        'abort',
        () => {
          clearInterval(heartbeat);
          unsubscribe();
        },
        { once: true },
      );
      options.streams?.add(res);

      if (resumeFrom !== undefined) {
        const late = setTimeout(() => res.destroy(), catchUpMs);
        try {
          let first = true;
          for (let from = resumeFrom; !res.destroyed && !res.writableEnded;) {
            const { events, gap } = await log.after(from, CATCH_UP_PAGE);
            if (first && gap) write(`event: events.gap\ndata: ${JSON.stringify({ after: resumeFrom })}\n\n`);
            first = false;
            events.forEach(send);
            // The catch-up goes at the reader's pace (what it asked for may be thousands of events).
            await drained();
            if (events.length < CATCH_UP_PAGE) break;
            from = (events[events.length - 1] as StoredEvent).eventId;
          }
        } catch {
          // The headers are out: end the stream, and the client reconnects from what it got.
          res.destroy();
          return;
        } finally {
          clearTimeout(late);
        }
        if (res.destroyed || res.writableEnded) return;
      }
      live = true;
      buffered.splice(0).forEach(send);
    })
    .all(methodNotAllowed(['GET']));
  return router;
}
