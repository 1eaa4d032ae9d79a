import type { ContainerRecord, ContainerStore, DomainEvent, EventLog, EventType, PullStore, RecordPatch } from './ports.js';

/** An event id (a Redis Stream id): milliseconds-sequence. Later events have greater ids. */
export const EVENT_ID = /^\d{1,20}-\d{1,20}$/;

/** Compares two event ids in the order the log gave them. */
export function compareEventIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

/** Called when an event could not be published: the write it tells of has happened, so it is not undone. */
export type PublishFailure = (error: unknown, type: EventType) => void;

type RecordEventType = Exclude<EventType, 'container.deleted' | 'image.pull'>;

const STATUS_EVENTS: Record<ContainerRecord['status'], RecordEventType> = {
  running: 'container.started',
  stopping: 'container.stopping',
  stopped: 'container.stopped',
  deleting: 'container.deleting',
};

/** The event a transition tells of, if any: a change of status, else a new activity sample. */
export function transitionEvent(previous: ContainerRecord['status'] | undefined, record: ContainerRecord, patch: RecordPatch): DomainEvent | null {
  // A stop or a delete says why (the record's own words: requested, deadline, idle…).
  const why = record.status !== 'running' && record.stopReason !== null ? { detail: { reason: record.stopReason } } : {};
  if (previous !== undefined && previous !== record.status) return { type: STATUS_EVENTS[record.status], record, ...why };
  if (patch.connections !== undefined || patch.observedAt !== undefined) return { type: 'container.activity', record };
  return null;
}

function publisher(log: EventLog, onFailure: PublishFailure) {
  return (event: DomainEvent | null) => {
    if (event === null) return Promise.resolve();
    return log.publish(event).catch((error: unknown) => onFailure(error, event.type));
  };
}

/**
 * The store, telling the event log of each write that matters to a watcher: a record made, a status changed,
 * an activity sample, a record removed. Every process that writes records (API and worker) uses it, so the
 * log has every change whoever made it.
 */
export function withContainerEvents(store: ContainerStore, log: EventLog, onFailure: PublishFailure): ContainerStore {
  const publish = publisher(log, onFailure);
  return {
    markCreate: (createId, expiresAt, limit) => store.markCreate(createId, expiresAt, limit),
    countByStatus: () => store.countByStatus(),
    recount: () => store.recount(),
    insert: async (record, createId) => {
      await store.insert(record, createId);
      await publish({ type: 'container.created', record });
    },
    adopt: async (record, createId, now) => {
      const outcome = await store.adopt(record, createId, now);
      if (outcome === 'adopted') await publish({ type: 'container.adopted', record });
      return outcome;
    },
    dropCreateMark: (createId) => store.dropCreateMark(createId),
    reservePorts: (count, createId, range, now) => store.reservePorts(count, createId, range, now),
    releasePorts: (owner, ports) => store.releasePorts(owner, ports),
    markPortsForeign: (ports, until) => store.markPortsForeign(ports, until),
    purgeCreateMarks: (before) => store.purgeCreateMarks(before),
    looksEmpty: () => store.looksEmpty(),
    unrecorded: (ids) => store.unrecorded(ids),
    setAlias: (from, to) => store.setAlias(from, to),
    aliasOf: (id) => store.aliasOf(id),
    get: (id) => store.get(id),
    resolvePrefix: (prefix) => store.resolvePrefix(prefix),
    list: () => store.list(),
    listAt: () => store.listAt(),
    version: () => store.version(),
    onReset: (listener) => store.onReset(listener),
    transition: async (id, guard, patch) => {
      const result = await store.transition(id, guard, patch);
      if (result.outcome === 'applied') await publish(transitionEvent(result.previous, result.record, patch));
      return result;
    },
    remove: async (id) => {
      const removed = await store.remove(id);
      if (removed) await publish({ type: 'container.deleted', id });
      return removed;
    },
    checkIn: (ip, tokenHash, active, at) => store.checkIn(ip, tokenHash, active, at),
  };
}

/** The pull store, telling the event log of a pull's start, its progress (as often as it is written) and its end. */
export function withPullEvents(pulls: PullStore, log: EventLog, onFailure: PublishFailure): PullStore {
  const publish = publisher(log, onFailure);
  const tell = async (id: string) => {
    const pull = await pulls.get(id).catch((error: unknown) => onFailure(error, 'image.pull'));
    if (pull) await publish({ type: 'image.pull', pull });
  };
  return {
    startOrJoin: async (reference, id, at) => {
      const result = await pulls.startOrJoin(reference, id, at);
      if (result.created) await publish({ type: 'image.pull', pull: result.pull });
      return result;
    },
    get: (id) => pulls.get(id),
    listActive: () => pulls.listActive(),
    progress: async (id, layers, at) => {
      await pulls.progress(id, layers, at);
      await tell(id);
    },
    finish: async (id, outcome, at) => {
      await pulls.finish(id, outcome, at);
      await tell(id);
    },
  };
}
