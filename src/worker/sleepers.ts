import type { HeldConnection } from '../adapters/net/port-holder.js';
import { PortHolder, accepts, join } from '../adapters/net/port-holder.js';
import type { Wake } from '../domain/containers/wake.js';
import { tcpBindings, type ContainerRecord } from '../domain/containers/record.js';
import type { ContainerOperations, ContainerStore, EventLog, Logger } from '../domain/ports.js';
import type { Metrics } from '../adapters/prometheus/metrics.js';
import { every } from './periodic.js';

export interface SleepersDeps {
  readonly store: Pick<ContainerStore, 'list' | 'get'>;
  readonly events: Pick<EventLog, 'subscribe'>;
  readonly wake: Wake;
  readonly runtime: Pick<ContainerOperations, 'ready'>;
  readonly logger: Logger;
  readonly metrics?: Pick<Metrics, 'wakeSeconds'>;
  /** The host address the ports are published on. */
  readonly address: string;
  /** How long a held connection waits for its container to answer. */
  readonly timeoutMs: number;
  /** Connections held at once per container; more are closed at once. */
  readonly maxHeld: number;
  /** Between full passes that listen on every sleeping container's ports (after a restart, a missed event). */
  readonly syncEveryMs?: number;
  /** Which records are this host's (every one, on a single engine). */
  readonly onThisHost?: (record: ContainerRecord) => boolean;
  /**
   * Where a held connection is joined to once the container runs: by default its address on the containers'
   * network and its own port; on a swarm (whose overlay addresses this host cannot reach) its published port here.
   */
  readonly reach?: (record: ContainerRecord, port: { readonly containerPort: number; readonly hostPort: number }) => { host: string; port: number };
}

const byAddress = (record: ContainerRecord, port: { readonly containerPort: number }) => ({ host: record.ip, port: port.containerPort });

export interface Sleepers {
  /** Settles once every sleeping container's ports are listened on for the first time. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** After a first connection, how long to go on accepting the ones that come with it before handing the ports back. */
const GATHER_QUIET_MS = 8;
const GATHER_MAX_MS = 50;
/** The longest a start by someone else keeps a sleeping container's ports unheld (a swarm start's deadline is about this). */
const HANDED_BACK_MS = 60_000;

interface Waking {
  readonly held: HeldConnection[];
  readonly firstAt: number;
  done: boolean;
}

/**
 * Sleeping containers, per host: while a container with wake on is stopped, its host ports are listened on
 * here; the first connection is accepted and held, the container is started as `PATCH status=running` starts
 * it (the ports are handed back to Docker just before), and every held connection is joined to it once its
 * port accepts. After that new connections go straight to Docker's published port: nothing of ours is in their
 * path. A deleted container's ports stop listening at once (the events say so); every `syncEveryMs` the
 * listeners are brought in line with the records, so a restart listens on everything again within that.
 */
export function keepSleepers({
  store,
  events,
  wake,
  runtime,
  logger,
  metrics,
  address,
  timeoutMs,
  maxHeld,
  syncEveryMs = 2_000,
  onThisHost = () => true,
  reach = byAddress,
}: SleepersDeps): Sleepers {
  const waking = new Map<string, Waking>();
  /**
   * Containers someone else is starting (a PATCH, another node's wake), until when: their ports were handed
   * back and are not listened on again meanwhile, though their records still say stopped (a start on a swarm
   * takes seconds, several passes).
   */
  const handedBack = new Map<string, number>();
  const holder = new PortHolder({
    address,
    onConnection: (id, held) => accept(id, held),
    onListenError: (id, hostPort, error) =>
      logger.warn(
        { containerId: id, port: hostPort, err: error.code ?? error.message },
        "cannot listen on a sleeping container's port; it will not wake on it until it is free",
      ),
  });
  let closing = false;

  const sleeping = (record: ContainerRecord) =>
    record.status === 'stopped' && record.wakeOnConnect && tcpBindings(record.ports).length > 0 && onThisHost(record);

  async function sync(): Promise<void> {
    const records = await store.list();
    const now = Date.now();
    const wanted = new Map(records.filter(sleeping).map((record) => [record.id, record]));
    for (const [id, until] of handedBack) if (until <= now || !wanted.has(id)) handedBack.delete(id);
    for (const id of handedBack.keys()) wanted.delete(id);
    await Promise.all(
      holder
        .ids()
        .filter((id) => !wanted.has(id) && !waking.has(id))
        .map((id) => holder.close(id)),
    );
    if (closing) return;
    await Promise.all(
      [...wanted.values()]
        // Also a container one of whose ports could not be had last time (something held it a moment): tried again.
        .filter((record) => !holder.holdsAll(record.id, tcpBindings(record.ports)) && !waking.has(record.id))
        .map((record) => holder.open(record.id, tcpBindings(record.ports))),
    );
  }

  function accept(id: string, held: HeldConnection): void {
    let state = waking.get(id);
    if (state === undefined) {
      state = { held: [], firstAt: held.acceptedAt, done: false };
      waking.set(id, state);
      void wakeUp(id, state);
    }
    if (state.done || state.held.length >= maxHeld) {
      held.socket.destroy();
      return;
    }
    state.held.push(held);
  }

  /** Gathers the connections that come together, hands the ports back, starts the container, joins them. */
  async function wakeUp(id: string, state: Waking): Promise<void> {
    let seen = 1;
    for (const started = Date.now(); Date.now() - started < GATHER_MAX_MS;) {
      await new Promise((resolve) => setTimeout(resolve, GATHER_QUIET_MS));
      if (state.held.length === seen) break;
      seen = state.held.length;
    }
    await holder.close(id);
    const first = state.held[0] as HeldConnection;
    let record: ContainerRecord;
    try {
      record = await wake.wake(id, { port: first.hostPort, peer: first.peer });
    } catch (error) {
      state.done = true;
      for (const held of state.held) held.socket.destroy();
      const reason = `could not start: ${(error as Error).message}`;
      logger.warn({ containerId: id, err: error }, 'a sleeping container could not be woken; its held connections were closed');
      const current = await store.get(id).catch(() => null);
      if (current !== null) await wake.failed(current, reason);
      waking.delete(id);
      return;
    }
    const deadline = state.firstAt + timeoutMs;
    let answered = false;
    const alive = async () => (await store.get(id).catch(() => record))?.status === 'running';
    // An image with a health check is ready when it passes (a database accepts before it takes queries): asked
    // once its first held port accepts, and then as often as it takes.
    const firstPort = reach(record, first);
    for (let asked = Date.now(); Date.now() < deadline && !(await accepts(firstPort, 250));) {
      if (Date.now() - asked > 500) {
        asked = Date.now();
        if (!(await alive())) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    while (Date.now() < deadline && !(await runtime.ready(id).catch(() => false))) {
      if (!(await alive())) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const outcomes = await Promise.all(
      state.held.map(async (held) => {
        const outcome = await join(held, reach(record, held), deadline, alive);
        if (outcome === 'joined' && !answered) {
          answered = true;
          const seconds = (Date.now() - state.firstAt) / 1000;
          metrics?.wakeSeconds.observe(seconds);
          await wake.woken(record, seconds);
        }
        return outcome;
      }),
    );
    state.done = true;
    waking.delete(id);
    const stopped = outcomes.filter((outcome) => outcome === 'stopped').length;
    const timedOut = outcomes.filter((outcome) => outcome === 'timeout').length;
    if (stopped > 0) {
      logger.warn({ containerId: id, stopped }, 'a woken container stopped before it answered');
      await wake.failed(
        (await store.get(id).catch(() => null)) ?? record,
        `could not start: it stopped (its command ended) before its port accepted; ${stopped} held connection(s) closed`,
      );
    } else if (timedOut > 0) {
      const reason = `its port did not accept within ${Math.round(timeoutMs / 1000)} s (SD_WAKE_TIMEOUT); ${timedOut} held connection(s) closed`;
      logger.warn({ containerId: id, timedOut }, 'a woken container did not answer in time');
      await wake.failed(record, reason);
    }
  }

  const passes = every(
    syncEveryMs,
    () => sync(),
    (error) => logger.warn({ err: error }, "could not listen on the sleeping containers' ports; will try again"),
  );
  // A deleted container's ports stop listening at once; a stopped one's are listened on at once.
  const unsubscribe = events.subscribe((event) => {
    if (event.type === 'container.deleting' || event.type === 'container.deleted') {
      const id = event.type === 'container.deleted' ? event.id : event.record.id;
      void holder.close(id);
    } else if (event.type === 'container.waking' && !waking.has(event.record.id)) {
      // Someone else starts it (a PATCH, another host's wake): its ports are handed back, and kept so while
      // that start lasts (or its record leaves `stopped`).
      handedBack.set(event.record.id, Date.now() + HANDED_BACK_MS);
      void holder.close(event.record.id);
    } else if (event.type === 'container.stopped' && sleeping(event.record) && !holder.has(event.record.id) && !waking.has(event.record.id)) {
      // Stopped anew (a start that ended so, too): listened on at once.
      handedBack.delete(event.record.id);
      void holder.open(event.record.id, tcpBindings(event.record.ports));
    }
  });
  unsubscribe.catch((error: unknown) => logger.warn({ err: error }, 'cannot follow the events; sleeping containers are listened on at each pass only'));

  return {
    ready: passes.first,
    async close() {
      closing = true;
      await passes.stop();
      (await unsubscribe.catch(() => () => undefined))();
      await holder.closeAll();
    },
  };
}
