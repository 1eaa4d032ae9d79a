import { requestDeletion, requestStop } from '../containers/actions.js';
import type { ContainerRecord } from '../containers/record.js';
import type { ContainerSettings } from '../containers/settings.js';
import { formatDuration } from '../durations.js';
import type { Clock, ConnectionProbe, ContainerOperations, ContainerStore, EventLog, JobQueue, RecordPatch } from '../ports.js';
import { decideCheck, idleReason } from './idle-rule.js';

export interface IdlePassDeps {
  readonly store: ContainerStore;
  readonly runtime: Pick<ContainerOperations, 'inspect'>;
  readonly probe: ConnectionProbe;
  readonly queue: Pick<JobQueue, 'enqueueStop' | 'enqueueDelete'>;
  readonly events: Pick<EventLog, 'publish'>;
  readonly clock: Clock;
  readonly settings: Pick<
    ContainerSettings,
    'disableTimeouts' | 'timeoutInterval' | 'initialTimeoutInterval' | 'activitySources' | 'quietConnection' | 'deleteStoppedAfter' | 'expiryWarning'
  >;
}

export interface PassReport {
  /** Running containers looked at. */
  readonly containers: number;
  /** Of those, how many could not be sampled (unknown: nothing about their activity changes); 0 when not sampling. */
  readonly unknown: number;
  /** Of those, how many had at least one client connection at the sample. */
  readonly active: number;
  /** Records written by the sample (only what changed is written). */
  readonly written: number;
  /** Idle checks that were due and were decided. */
  readonly checked: number;
  /** Stops asked for: idle at the final look, or a stop deadline reached. */
  readonly stopping: number;
  /** Deletes asked for: a delete deadline reached, or stopped for SD_DELETE_STOPPED_AFTER. */
  readonly deleting: number;
  /** `container.expiring` warnings told. */
  readonly warned: number;
}

/** How many containers are sampled (or decided) at once. */
const AT_ONCE = 32;

/**
 * Bytes a sample must see move (in and out of the container's interfaces) to count as traffic: a check-in
 * of the container's own reporter is well under this, a query's answer or a download well over.
 */
export const TRAFFIC_FLOOR_BYTES = 1024;

/** The TCP ports a container exposes, from its published ports ("80/tcp" → 80). */
export function tcpPorts(record: Pick<ContainerRecord, 'ports'>): number[] {
  return Object.keys(record.ports)
    .filter((spec) => spec.endsWith('/tcp'))
    .map((spec) => Number(spec.slice(0, -'/tcp'.length)))
    .filter((port) => Number.isInteger(port) && port > 0);
}

export interface Sample {
  readonly pid: number;
  /** Client connections, or null when they could not be read. */
  readonly connections: number | null;
  readonly byPort: Readonly<Record<number, number>>;
  /** The namespace's bytes so far, when read (quiet connections on). */
  readonly bytes: number | null;
}

/**
 * What a sample changes in a record: the count and the ports that had connections, the bytes and when they
 * last moved, and the time of activity when a connection counts: always, or (with quiet connections,
 * `quietMs`) only while bytes moved within that long. Nothing but "not known" when it could not be taken (an
 * unknown count never makes a container idle).
 */
export function samplePatch(record: ContainerRecord, sample: Sample, now: number, quietMs: number | null): RecordPatch {
  const patch: { -readonly [K in keyof RecordPatch]: RecordPatch[K] } = {};
  if (sample.pid !== record.pid) patch.pid = sample.pid;
  if (sample.connections !== record.connections) patch.connections = sample.connections;
  if (sample.connections === null) return patch;
  const ports = Object.keys(sample.byPort)
    .sort((a, b) => Number(a) - Number(b))
    .map((port) => `${port}/tcp`);
  if (ports.join(',') !== record.connectedPorts.join(',')) patch.connectedPorts = ports;
  let trafficAt = record.trafficAt;
  if (sample.bytes !== null) {
    if (record.netBytes === null || sample.bytes - record.netBytes > TRAFFIC_FLOOR_BYTES) trafficAt = now;
    if (sample.bytes !== record.netBytes) patch.netBytes = sample.bytes;
    if (trafficAt !== record.trafficAt) patch.trafficAt = trafficAt;
  }
  const moving = quietMs === null || (trafficAt !== null && now - trafficAt <= quietMs);
  if (sample.connections > 0 && moving) patch.observedAt = now;
  return patch;
}

/**
 * The idle stop and the lifetimes, as one pass over the records (the worker runs it every
 * SD_ACTIVITY_SAMPLE_INTERVAL): sample each running container's client connections from this host (and its
 * traffic, with quiet connections on), then, for each record: stop it at its stop deadline, delete it at its
 * delete deadline or once it has been stopped for SD_DELETE_STOPPED_AFTER, warn of a deadline
 * SD_EXPIRY_WARNING ahead, and decide its idle check when that is due (idle-rule.ts): look again an interval
 * later, or ask for its stop. Every write is guarded by the record's start, so a container stopped or
 * restarted meanwhile is left alone, and two passes at once (two workers) cannot act twice.
 */
export function createIdlePass(deps: IdlePassDeps) {
  const { store, runtime, probe, events, clock, settings } = deps;
  const quietMs = settings.quietConnection === null ? null : settings.quietConnection * 1000;

  async function sample(record: ContainerRecord): Promise<{ record: ContainerRecord; count: number | null; written: boolean }> {
    let pid = record.pid;
    // Records from a listing (a start seen only by reconciliation) do not know the PID yet.
    if (pid <= 0) pid = (await runtime.inspect(record.id))?.pid ?? 0;
    const taken = await probe.sample({ id: record.id, pid, ports: tcpPorts(record) }, { bytes: quietMs !== null });
    const patch = samplePatch(
      record,
      { pid, connections: taken?.connections ?? null, byPort: taken?.byPort ?? {}, bytes: taken?.bytes ?? null },
      clock.now(),
      quietMs,
    );
    const count = taken?.connections ?? null;
    if (Object.keys(patch).length === 0) return { record, count, written: false };
    const result = await store.transition(record.id, { from: ['running'], startCount: record.startCount }, patch);
    return result.outcome === 'applied' ? { record: result.record, count, written: true } : { record, count, written: false };
  }

  type Outcome = 'stopping' | 'deleting' | 'warned' | 'rescheduled' | 'none';

  /** A deadline within the warning: told once per deadline (an extend makes a new one, warned of anew). */
  async function warnOf(record: ContainerRecord, now: number): Promise<boolean> {
    const warningMs = settings.expiryWarning * 1000;
    const soonest = [
      { deadline: 'stop', at: record.status === 'running' ? record.stopAt : null },
      { deadline: 'delete', at: record.deleteAt },
    ].filter((d): d is { deadline: string; at: number } => d.at !== null && d.at - now <= warningMs && d.at !== record.warnedFor);
    const first = soonest.sort((a, b) => a.at - b.at)[0];
    if (first === undefined) return false;
    const result = await store.transition(record.id, { from: [record.status], startCount: record.startCount }, { warnedFor: first.at });
    if (result.outcome !== 'applied') return false;
    await events
      .publish({
        type: 'container.expiring',
        record: result.record,
        detail: { deadline: first.deadline, at: new Date(first.at).toISOString(), in_seconds: Math.max(0, Math.round((first.at - now) / 1000)) },
      })
      .catch(() => undefined);
    return true;
  }

  async function decide(record: ContainerRecord, now: number): Promise<Outcome> {
    if (record.status === 'deleting' || record.status === 'stopping') return 'none';
    if (record.deleteAt !== null && record.deleteAt <= now) {
      return (await requestDeletion(deps, record, `deadline: delete_after reached (${new Date(record.deleteAt).toISOString()})`)) ? 'deleting' : 'none';
    }
    if (record.status === 'stopped') {
      const after = settings.deleteStoppedAfter;
      if (after !== null && record.stoppedAt !== null && now - record.stoppedAt >= after * 1000) {
        return (await requestDeletion(
          deps,
          record,
          `stopped for ${formatDuration((now - record.stoppedAt) / 1000)} (SD_DELETE_STOPPED_AFTER ${formatDuration(after)})`,
        ))
          ? 'deleting'
          : 'none';
      }
      return (await warnOf(record, now)) ? 'warned' : 'none';
    }
    if (record.stopAt !== null && record.stopAt <= now) return (await requestStop(deps, record, 'deadline')) === null ? 'none' : 'stopping';
    const warned = await warnOf(record, now);
    if (settings.disableTimeouts || (record.nextCheckAt !== null && record.nextCheckAt > now)) return warned ? 'warned' : 'none';
    const guard = { from: ['running' as const], startCount: record.startCount };
    if (record.nextCheckAt === null) {
      // Started while the idle stop was off: watched from now on.
      await store.transition(record.id, guard, { nextCheckAt: now + settings.timeoutInterval * 1000 });
      return 'rescheduled';
    }
    const decision = decideCheck(record, now, settings);
    if (decision.kind === 'stop') {
      // The look before this one was an interval ago, and the start before it an initial interval.
      const startedAt = record.nextCheckAt - (settings.initialTimeoutInterval + settings.timeoutInterval) * 1000;
      return (await requestStop(deps, record, idleReason(record, now, startedAt))) === null ? 'none' : 'stopping';
    }
    const result = await store.transition(record.id, guard, { strikes: decision.strikes, nextCheckAt: decision.nextCheckAt });
    return result.outcome === 'applied' ? 'rescheduled' : 'none';
  }

  return {
    /**
     * One pass; `sample: false` decides on what the records already say (observation is off or not wanted).
     * `only`: the records this host samples (a swarm node's worker: those of its node; another node's are its
     * own worker's, and a sample taken here would read as unknown). `decide: false`: sample only (on a swarm
     * one worker at a time decides, for every record, on what the nodes' samples wrote).
     */
    async once(options: { readonly sample: boolean; readonly only?: (record: ContainerRecord) => boolean; readonly decide?: boolean }): Promise<PassReport> {
      const all = await store.list();
      const mine = options.only ?? (() => true);
      let running = all.filter((record) => record.status === 'running');
      const ours = running.filter(mine);
      let [unknown, active, written] = [0, 0, 0];
      if (options.sample) {
        const sampled: ContainerRecord[] = [];
        for (let i = 0; i < ours.length; i += AT_ONCE) {
          for (const result of await Promise.all(ours.slice(i, i + AT_ONCE).map(sample))) {
            sampled.push(result.record);
            if (result.count === null) unknown += 1;
            else if (result.count > 0) active += 1;
            if (result.written) written += 1;
          }
        }
        running = [...sampled, ...running.filter((record) => !mine(record))];
      }
      if (options.decide === false) return { containers: ours.length, unknown, active, written, checked: 0, stopping: 0, deleting: 0, warned: 0 };
      const now = clock.now();
      const others = all.filter((record) => record.status === 'stopped');
      const candidates = [...running, ...others];
      const outcomes: Outcome[] = [];
      for (let i = 0; i < candidates.length; i += AT_ONCE)
        outcomes.push(...(await Promise.all(candidates.slice(i, i + AT_ONCE).map((record) => decide(record, now)))));
      const count = (kind: Outcome) => outcomes.filter((outcome) => outcome === kind).length;
      const checked = running.filter((record) => !settings.disableTimeouts && (record.nextCheckAt === null || record.nextCheckAt <= now)).length;
      return {
        containers: ours.length,
        unknown,
        active,
        written,
        checked,
        stopping: count('stopping'),
        deleting: count('deleting'),
        warned: count('warned'),
      };
    },
  };
}

export type IdlePass = ReturnType<typeof createIdlePass>;
