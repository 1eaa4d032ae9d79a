import type { DomainEvent, EventLog, StoredEvent } from '../../src/domain/ports.js';

/** The event log in memory: what was published, in order, with ids that grow. */
export class MemoryEventLog implements EventLog {
  readonly events: StoredEvent[] = [];
  private readonly listeners = new Set<(event: StoredEvent) => void>();

  async publish(event: DomainEvent): Promise<void> {
    const stored = { ...event, eventId: `${this.events.length + 1}-0` } as StoredEvent;
    this.events.push(stored);
    for (const listener of this.listeners) listener(stored);
  }

  async after(eventId: string, count: number) {
    const from = Number(eventId.split('-')[0]);
    return { events: this.events.filter((e) => Number(e.eventId.split('-')[0]) > from).slice(0, count), gap: false };
  }

  async subscribe(listener: (event: StoredEvent) => void) {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** The types published so far. */
  get types(): string[] {
    return this.events.map((event) => event.type);
  }
}
