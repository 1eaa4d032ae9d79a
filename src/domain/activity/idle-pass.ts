import { requestStop } from '../containers/actions.js';
import type { ContainerRecord } from '../containers/record.js';
import type { ContainerSettings } from '../containers/settings.js';
import type { Clock, ConnectionProbe, ContainerOperations, ContainerStore, JobQueue, RecordPatch } from '../ports.js';
import { decideCheck } from './idle-rule.js';

export interface IdlePassDeps {
  readonly store: ContainerStore;
  readonly runtime: Pick<ContainerOperations, 'inspect'>;
  readonly probe: ConnectionProbe;
  readonly queue: Pick<JobQueue, 'enqueueStop'>;
  readonly clock: Clock;
  readonly settings: Pick<ContainerSettings, 'disableTimeouts' | 'timeoutInterval' | 'activitySources'>;
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
  /** Of those, how many found the container idle at its final look and asked for its stop. */
  readonly stopping: number;
}

/** How many containers are sampled at once. */
const AT_ONCE = 32;

/** The TCP ports a container exposes, from its published ports ("80/tcp" → 80). */
export function tcpPorts(record: Pick<ContainerRecord, 'ports'>): number[] {
  return Object.keys(record.ports)
    .filter((spec) => spec.endsWith('/tcp'))
    .map((spec) => Number(spec.slice(0, -'/tcp'.length)))
    .filter((port) => Number.isInteger(port) && port > 0);
}

/**
 * What a sample changes in a record: the count, and the time of activity when there was any; nothing when
 * it could not be taken (an unknown count never makes a container idle) beyond saying it is not known.
 */
export function samplePatch(record: ContainerRecord, pid: number, count: number | null, now: number): RecordPatch {
  const patch: { -readonly [K in keyof RecordPatch]: RecordPatch[K] } = {};
  if (pid !== record.pid) patch.pid = pid;
  if (count !== record.connections) patch.connections = count;
  if (count !== null && count > 0) patch.observedAt = now;
  return patch;
}

/**
 * The idle stop as one pass over the running records (the worker runs it every SD_ACTIVITY_SAMPLE_INTERVAL):
 * sample each container's client connections from this host, then decide for every record whose check is due
 * (idle rule, idle-rule.ts): look again an interval later, or ask for its stop. Every write is guarded by the
 * record's start, so a container stopped or restarted meanwhile is left alone, and two passes at once (two
 * workers) cannot stop one container twice.
 */
export function createIdlePass(deps: IdlePassDeps) {
  const { store, runtime, probe, clock, settings } = deps;

  async function sample(record: ContainerRecord): Promise<{ record: ContainerRecord; count: number | null; written: boolean }> {
    let pid = record.pid;
    // Records from a listing (a start seen only by reconciliation) do not know the PID yet.
    if (pid <= 0) pid = (await runtime.inspect(record.id))?.pid ?? 0;
    const count = await probe.count({ id: record.id, pid, ports: tcpPorts(record) });
    const patch = samplePatch(record, pid, count, clock.now());
    if (Object.keys(patch).length === 0) return { record, count, written: false };
    const result = await store.transition(record.id, { from: ['running'], startCount: record.startCount }, patch);
    return result.outcome === 'applied' ? { record: result.record, count, written: true } : { record, count, written: false };
  }

  /** The idle check of one record whose look is due: 'stopping' when it asked for the stop. */
  async function decide(record: ContainerRecord, now: number): Promise<'stopping' | 'rescheduled' | 'stale'> {
    const guard = { from: ['running' as const], startCount: record.startCount };
    if (record.nextCheckAt === null) {
      // Started while the idle stop was off: watched from now on.
      await store.transition(record.id, guard, { nextCheckAt: now + settings.timeoutInterval * 1000 });
      return 'rescheduled';
    }
    const decision = decideCheck(record, now, settings);
    if (decision.kind === 'stop') return (await requestStop(deps, record)) === null ? 'stale' : 'stopping';
    const result = await store.transition(record.id, guard, { strikes: decision.strikes, nextCheckAt: decision.nextCheckAt });
    return result.outcome === 'applied' ? 'rescheduled' : 'stale';
  }

  return {
    /** One pass; `sample: false` decides on what the records already say (observation is off or not wanted). */
    async run(options: { readonly sample: boolean }): Promise<PassReport> {
      let running = (await store.list()).filter((record) => record.status === 'running');
      let [unknown, active, written] = [0, 0, 0];
      if (options.sample) {
        const sampled: ContainerRecord[] = [];
        for (let i = 0; i < running.length; i += AT_ONCE) {
          for (const result of await Promise.all(running.slice(i, i + AT_ONCE).map(sample))) {
            sampled.push(result.record);
            if (result.count === null) unknown += 1;
            else if (result.count > 0) active += 1;
            if (result.written) written += 1;
          }
        }
        running = sampled;
      }
      let [checked, stopping] = [0, 0];
      if (!settings.disableTimeouts) {
        const now = clock.now();
        const due = running.filter((record) => record.nextCheckAt === null || record.nextCheckAt <= now);
        for (let i = 0; i < due.length; i += AT_ONCE) {
          const outcomes = await Promise.all(due.slice(i, i + AT_ONCE).map((record) => decide(record, now)));
          checked += outcomes.length;
          stopping += outcomes.filter((outcome) => outcome === 'stopping').length;
        }
      }
      return { containers: running.length, unknown, active, written, checked, stopping };
    },
  };
}

export type IdlePass = ReturnType<typeof createIdlePass>;
