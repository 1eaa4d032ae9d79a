import { LABELS } from '../../domain/containers/labels.js';
import type { EngineEvents } from '../../domain/ports.js';
import { jsonLines, type DockerEvents } from '../docker/events.js';

/** After a task container's event, when its service is looked at again (its task's state follows the node's word). */
const TASK_SETTLES_MS = [1_000, 5_000];

/** The swarm's label on a task's container naming its service. */
const SERVICE_ID = 'com.docker.swarm.service.id';

/**
 * Hands on the service id of every event that may change a service's state as we record it: a service's own
 * events (made, changed, removed), and the start and death of a task's container (the service id is on it).
 */
export function serviceIds(onId: (id: string) => void): (chunk: Buffer | string) => void {
  return jsonLines((value) => {
    const event = value as { Type?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } } | null;
    const id = event?.Type === 'service' ? event.Actor?.ID : event?.Type === 'container' ? event.Actor?.Attributes?.[SERVICE_ID] : undefined;
    if (typeof id === 'string' && id !== '') onId(id);
  });
}

/**
 * What the swarm tells as it happens, for this installation's services: the manager's service events, and
 * the task containers' starts and deaths on this node's engine (each node's worker follows its own; the
 * reconciliation's passes cover a node with none).
 */
export class SwarmEvents implements EngineEvents {
  constructor(
    /** The manager's engine. */
    private readonly events: DockerEvents,
    /** This node's engine. */
    private readonly nodeEvents: DockerEvents,
    private readonly instance: string,
  ) {}

  async watch(onChange: (id: string) => void, signal: AbortSignal): Promise<{ readonly closed: Promise<void> }> {
    // Either stream ending is a gap: both are closed then, and the caller reconciles and opens them again.
    const both = new AbortController();
    const stop = () => both.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    if (signal.aborted) stop();
    // A container's death reaches the manager's task a moment after the node's event: the service is told
    // of again once its task has had time to say so (else the record would wait for the next full pass).
    const timers = new Set<NodeJS.Timeout>();
    const settled = (id: string) => {
      onChange(id);
      for (const ms of TASK_SETTLES_MS) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          onChange(id);
        }, ms);
        timers.add(timer);
      }
    };
    const end = () => {
      signal.removeEventListener('abort', stop);
      both.abort();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    };
    try {
      const [services, containers] = await Promise.all([
        // Each stream its own line buffer: a line split across chunks of one is never joined to the other's.
        this.events.follow({ type: ['service'] }, serviceIds(onChange), both.signal),
        this.nodeEvents.follow(
          { type: ['container'], label: [`${LABELS.instance}=${this.instance}`], event: ['start', 'die', 'destroy'] },
          serviceIds(settled),
          both.signal,
        ),
      ]);
      return { closed: Promise.race([services.closed, containers.closed]).then(end) };
    } catch (error) {
      end();
      throw error;
    }
  }

  watchImages(onChange: () => void, signal: AbortSignal): Promise<{ readonly closed: Promise<void> }> {
    return this.events.watchImages(onChange, signal);
  }
}
