import { z } from 'zod';
import { EVENT_ID } from '../../domain/events.js';

const eventId = z.string({ error: 'Last-Event-ID must be an event id' }).regex(EVENT_ID, 'Last-Event-ID must be an event id such as 1732350000000-0');

/** `GET /v1/events`: where to resume, from the `Last-Event-ID` header (as EventSource sends it) or the query. */
export const eventsSchema = z.strictObject(
  { last_event_id: eventId.optional() },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'Only last_event_id can be given' : undefined) },
);
