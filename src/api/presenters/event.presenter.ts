import type { StoredEvent } from '../../domain/ports.js';
import { presentContainer, type Present } from './container.presenter.js';
import { presentPull } from './pull.presenter.js';

/** One Server-Sent Events frame: the event's id (for Last-Event-ID), its type, and what it is about as JSON. */
export function eventFrame(event: StoredEvent, present: Present = (record) => presentContainer(record)): string {
  let data: unknown;
  switch (event.type) {
    case 'container.deleted':
      data = { container_id: event.id };
      break;
    case 'image.pull':
      data = { pull: presentPull(event.pull) };
      break;
    default:
      data = { container_id: event.record.id, ...event.detail, container: present(event.record) };
  }
  return `id: ${event.eventId}\nevent: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`;
}
