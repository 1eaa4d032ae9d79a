import type { ContainerRecord } from '../containers/record.js';
import type { Clock, ConnectionProbe, ContainerRuntime, ContainerStore, RecordPatch } from '../ports.js';

export interface SamplerDeps {
  readonly store: ContainerStore;
  readonly runtime: Pick<ContainerRuntime, 'inspect'>;
  readonly probe: ConnectionProbe;
  readonly clock: Clock;
}

export interface SampleReport {
  /** Running containers looked at. */
  readonly containers: number;
  /** Of those, how many could not be read (unknown: nothing about their activity changes). */
  readonly unknown: number;
  /** Of those, how many had at least one client connection. */
  readonly active: number;
  /** Records written (only what changed is written). */
  readonly written: number;
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
 * Samples every running managed container's client connections and writes what changed into its record,
 * guarded by its run (a container stopped or restarted meanwhile is left alone).
 */
export function createActivitySampler({ store, runtime, probe, clock }: SamplerDeps) {
  async function sampleOne(record: ContainerRecord): Promise<{ count: number | null; written: boolean }> {
    let pid = record.pid;
    // Records from a listing (a start seen only by reconciliation) do not know the PID yet.
    if (pid <= 0) pid = (await runtime.inspect(record.id))?.pid ?? 0;
    const count = await probe.count({ id: record.id, pid, ports: tcpPorts(record) });
    const patch = samplePatch(record, pid, count, clock.now());
    if (Object.keys(patch).length === 0) return { count, written: false };
    const result = await store.transition(record.id, { from: ['running'], run: record.run }, patch);
    return { count, written: result.outcome === 'applied' };
  }

  return {
    async pass(): Promise<SampleReport> {
      const running = (await store.list()).filter((record) => record.status === 'running');
      const results: { count: number | null; written: boolean }[] = [];
      for (let i = 0; i < running.length; i += AT_ONCE) {
        results.push(...(await Promise.all(running.slice(i, i + AT_ONCE).map(sampleOne))));
      }
      return {
        containers: running.length,
        unknown: results.filter((r) => r.count === null).length,
        active: results.filter((r) => r.count !== null && r.count > 0).length,
        written: results.filter((r) => r.written).length,
      };
    },
  };
}

export type ActivitySampler = ReturnType<typeof createActivitySampler>;
