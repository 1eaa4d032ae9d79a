import { Router } from 'express';
import type { EventLog, StoredEvent } from '../../domain/ports.js';
import { compareEventIds } from '../../domain/events.js';
import { methodNotAllowed } from '../middleware/errors.js';
import { parseInput } from '../middleware/validate.js';
import type { Present } from '../presenters/container.presenter.js';
import { eventFrame } from '../presenters/event.presenter.js';
import { eventsSchema } from './events.schemas.js';

export interface EventsOptions {
  /** Between comment lines on an idle stream. */
  readonly heartbeatMs: number;
  /** A client that lets this much go unread is cut off (it reconnects with Last-Event-ID). */
  readonly maxBufferedBytes?: number;
  /** How a container is presented in an event. */
  readonly present?: Present;
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
  router
    .route('/')
    .get(async (req, res) => {
      const { last_event_id: resumeFrom } = parseInput(eventsSchema, {
        ...(req.query as Record<string, unknown>),
        ...(req.get('last-event-id') === undefined ? {} : { last_event_id: req.get('last-event-id') }),
      });
      let sent = resumeFrom;
      let live = false;
      const buffered: StoredEvent[] = [];
      const send = (event: StoredEvent) => {
        if (sent !== undefined && compareEventIds(event.eventId, sent) <= 0) return;
        sent = event.eventId;
        res.write(eventFrame(event, options.present));
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
      const unsubscribe = await log.subscribe((event) => (live ? send(event) : buffered.push(event)));
      // The answer starts once the subscription has: a client that sees the headers misses nothing after them.
      res.status(200).set({
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Accel-Buffering': 'no',
        Connection: 'keep-alive',
      });
      res.flushHeaders();
      req.socket.setNoDelay(true);
      res.write('retry: 2000\n\n');
      const heartbeat = setInterval(() => res.write(': ping\n\n'), options.heartbeatMs);
      res.once('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
      });

      if (resumeFrom !== undefined) {
        try {
          let first = true;
          for (let from = resumeFrom; !res.destroyed;) {
            const { events, gap } = await log.after(from, CATCH_UP_PAGE);
            if (first && gap) res.write(`event: events.gap\ndata: ${JSON.stringify({ after: resumeFrom })}\n\n`);
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
        }
      }
      live = true;
      buffered.splice(0).forEach(send);
    })
    .all(methodNotAllowed(['GET']));
  return router;
}
