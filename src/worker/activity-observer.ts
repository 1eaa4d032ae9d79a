import type { ActivitySampler } from '../domain/activity/sampling.js';
import type { ConnectionProbe } from '../domain/ports.js';
import type { Logger } from '../lifecycle/logger.js';
import type { Metrics } from '../lifecycle/metrics.js';
import { every } from './periodic.js';

/** How the idle stop learns about activity right now (reported by the worker, shown by /healthz). */
export type ActivityMode = 'observed' | 'reported-only';

export interface ObserverDeps {
  readonly sources: { readonly observed: boolean; readonly reported: boolean };
  readonly intervalMs: number;
  readonly probe: ConnectionProbe;
  readonly sampler: ActivitySampler;
  readonly logger: Logger;
  /** Called whenever the mode changes. */
  readonly onModeChange?: (mode: ActivityMode) => void;
  readonly metrics?: Pick<Metrics, 'activitySamples' | 'activityPass'>;
}

export interface ActivityObserver {
  /** Settles after the first sample (or at once when observation is not wanted). */
  readonly ready: Promise<void>;
  mode(): ActivityMode;
  /** No further samples; waits for the one in progress. */
  close(): Promise<void>;
}

/**
 * Samples every running container's connections every `intervalMs`, unless observation is not wanted
 * (SD_ACTIVITY_SOURCES) or cannot work here; then the idle stop counts check-ins only, and the log says why,
 * once. A pass in which no container's sockets could be read at all (a worker outside the host's PID
 * namespace, a rootless engine) counts as "cannot work here" too.
 */
export function observeActivity({ sources, intervalMs, probe, sampler, logger, onModeChange, metrics }: ObserverDeps): ActivityObserver {
  let mode: ActivityMode = 'reported-only';
  const become = (next: ActivityMode) => {
    if (next === mode) return;
    mode = next;
    onModeChange?.(mode);
  };
  if (!sources.observed) {
    logger.info('activity: check-ins only (SD_ACTIVITY_SOURCES=reported)');
    return { ready: Promise.resolve(), mode: () => mode, close: async () => undefined };
  }
  let saidWhy = false;
  const off = (why: string) => {
    become('reported-only');
    if (!saidWhy) logger.warn({ why }, 'activity observation is off: the idle stop counts check-ins only');
    saidWhy = true;
  };
  const samples = every(
    intervalMs,
    async () => {
      const why = await probe.unavailable();
      if (why !== null) return off(why);
      const endPass = metrics?.activityPass.startTimer();
      const report = await sampler.pass();
      endPass?.();
      metrics?.activitySamples.inc({ outcome: 'counted' }, report.containers - report.unknown);
      metrics?.activitySamples.inc({ outcome: 'unknown' }, report.unknown);
      if (report.containers > 0 && report.unknown === report.containers) {
        return off("no running container's sockets could be read (the worker must share the host's PID namespace, and the engine must not be rootless)");
      }
      if (mode !== 'observed') logger.info({ intervalMs }, "activity observation is on: containers' open connections count");
      become('observed');
      saidWhy = false;
      logger.debug(report, 'activity sampled');
    },
    (error) => logger.warn({ err: error }, 'activity sample failed; will try again'),
  );
  return { ready: samples.first, mode: () => mode, close: () => samples.stop() };
}
