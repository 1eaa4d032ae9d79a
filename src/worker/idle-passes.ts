import type { IdlePass } from '../domain/activity/idle-pass.js';
import type { ContainerRecord } from '../domain/containers/record.js';
import type { ConnectionProbe, Leases, Logger } from '../domain/ports.js';
import type { Metrics } from '../adapters/prometheus/metrics.js';
import { every } from './periodic.js';

/** How the idle stop learns about activity right now (reported by the worker, shown by /healthz). */
export type ActivityMode = 'observed' | 'reported-only';

export interface IdlePassesDeps {
  readonly sources: { readonly observed: boolean; readonly reported: boolean };
  readonly intervalMs: number;
  readonly probe: ConnectionProbe;
  readonly pass: IdlePass;
  /** So that two workers on one host do the pass once: each pass first takes this host's lease. */
  readonly leases: Leases;
  /** Names this host's lease. */
  readonly host: string;
  /** The records this host's pass is for (every one on a single engine; on a swarm, its node's). */
  readonly onThisHost?: (record: ContainerRecord) => boolean;
  readonly logger: Logger;
  /** Called whenever the mode changes. */
  readonly onModeChange?: (mode: ActivityMode) => void;
  readonly metrics?: Pick<Metrics, 'activitySamples' | 'activityPass'>;
}

export interface IdlePasses {
  /** Settles after the first pass. */
  readonly ready: Promise<void>;
  mode(): ActivityMode;
  /** No further passes; waits for the one in progress. */
  close(): Promise<void>;
}

/**
 * Runs the idle pass every `intervalMs`: it samples every running container's connections, unless observation
 * is not wanted (SD_ACTIVITY_SOURCES) or cannot work here (then the idle stop counts check-ins only, and the
 * log says why, once), and decides every check that is due. A pass in which no container's sockets could be
 * read at all (a worker outside the host's PID namespace, a rootless engine) counts as "cannot work here" too.
 */
export function startIdlePasses({ sources, intervalMs, probe, pass, leases, host, onThisHost, logger, onModeChange, metrics }: IdlePassesDeps): IdlePasses {
  let mode: ActivityMode = 'reported-only';
  const become = (next: ActivityMode) => {
    if (next === mode) return;
    mode = next;
    onModeChange?.(mode);
  };
  if (!sources.observed) logger.info({}, 'activity: check-ins only (SD_ACTIVITY_SOURCES=reported)');
  let saidWhy = false;
  const off = (why: string) => {
    become('reported-only');
    if (!saidWhy) logger.warn({ why }, 'activity observation is off: the idle stop counts check-ins only');
    saidWhy = true;
  };

  const passes = every(
    intervalMs,
    async () => {
      // Held for most of an interval: a second worker on this host skips this round rather than doubling it.
      if (!(await leases.acquire(`idle-pass:${host}`, Math.max(500, intervalMs - 250)))) return;
      const why = sources.observed ? await probe.unavailable() : null;
      const sample = sources.observed && why === null;
      const endPass = metrics?.activityPass.startTimer();
      // On a swarm each node's worker samples its node's containers, and one worker at a time decides for all.
      const decide = onThisHost === undefined || (await leases.acquire('idle-decide', Math.max(500, intervalMs - 250)));
      const report = await pass.once({ sample, decide, ...(onThisHost === undefined ? {} : { only: onThisHost }) });
      endPass?.();
      if (why !== null) off(why);
      if (!sample) return;
      metrics?.activitySamples.inc({ outcome: 'counted' }, report.containers - report.unknown);
      metrics?.activitySamples.inc({ outcome: 'unknown' }, report.unknown);
      if (report.containers > 0 && report.unknown === report.containers) {
        off("no running container's sockets could be read (the worker must share the host's PID namespace, and the engine must not be rootless)");
        return;
      }
      if (mode !== 'observed') logger.info({ intervalMs }, "activity observation is on: containers' open connections count");
      become('observed');
      saidWhy = false;
      logger.debug({ ...report }, 'idle pass');
    },
    (error) => logger.warn({ err: error }, 'idle pass failed; will try again'),
  );
  return {
    ready: passes.first,
    mode: () => mode,
    async close() {
      await passes.stop();
      await leases.release(`idle-pass:${host}`).catch(() => undefined);
      if (onThisHost !== undefined) await leases.release('idle-decide').catch(() => undefined);
    },
  };
}
