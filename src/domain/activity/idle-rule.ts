import { formatDuration } from '../durations.js';

/**
 * The idle-stop rule (docs/API.md, "Activity monitoring"), as pure functions of a record and the clock.
 *
 * A container is active at a check when, within the last `timeoutInterval` seconds, a check-in reported a
 * non-zero count (source `reported`) or a sample saw at least one client connection (source `observed`).
 * Idle at a first look earns one final look an interval later; idle at that final look stops it. Active at
 * any look resets the count. A sample that could not be taken changes nothing, so it never makes a container
 * idle by itself.
 */

export interface ActivitySnapshot {
  /** Last reported number of active connections. */
  readonly active: number;
  /** Epoch ms of the latest check-in, or null. */
  readonly checkinAt: number | null;
  /** Epoch ms of the latest sample that saw a client connection, or null. */
  readonly observedAt: number | null;
  /** Idle looks in a row so far. */
  readonly strikes: number;
  /** Until when an extend keeps it up (epoch ms), or null. */
  readonly extendedUntil?: number | null;
}

export interface IdleRuleSettings {
  /** Seconds between checks, and how long a sign of activity stays fresh. */
  readonly timeoutInterval: number;
  /** Which signs count. */
  readonly activitySources: { readonly observed: boolean; readonly reported: boolean };
}

export type CheckDecision = { readonly kind: 'reschedule'; readonly strikes: number; readonly nextCheckAt: number } | { readonly kind: 'stop' };

export type ActivitySource = 'observed' | 'reported';

/** What keeps a running container up right now, as the rule sees it: the first sign that counts, or none. */
export type KeptBy =
  | { readonly by: 'extend'; readonly until: number }
  | { readonly by: 'connections'; readonly at: number }
  | { readonly by: 'check-in'; readonly at: number; readonly active: number }
  | { readonly by: 'nothing'; readonly since: number | null };

export function keptBy(snapshot: ActivitySnapshot, now: number, settings: IdleRuleSettings): KeptBy {
  const fresh = (at: number | null) => at !== null && now - at <= settings.timeoutInterval * 1000;
  if (snapshot.extendedUntil !== undefined && snapshot.extendedUntil !== null && snapshot.extendedUntil > now)
    return { by: 'extend', until: snapshot.extendedUntil };
  if (settings.activitySources.observed && fresh(snapshot.observedAt)) return { by: 'connections', at: snapshot.observedAt as number };
  if (settings.activitySources.reported && snapshot.active > 0 && fresh(snapshot.checkinAt))
    return { by: 'check-in', at: snapshot.checkinAt as number, active: snapshot.active };
  return { by: 'nothing', since: lastActivity(snapshot)?.at ?? null };
}

export function isActive(snapshot: ActivitySnapshot, now: number, settings: IdleRuleSettings): boolean {
  return keptBy(snapshot, now, settings).by !== 'nothing';
}

/** Why an idle container is stopped, in words: "idle: no connection or check-in for 1h 0m". */
export function idleReason(snapshot: ActivitySnapshot, now: number, startedAt: number | null): string {
  const since = lastActivity(snapshot)?.at ?? startedAt;
  return since === null ? 'idle: no connection or check-in since it started' : `idle: no connection or check-in for ${formatDuration((now - since) / 1000)}`;
}

export function decideCheck(snapshot: ActivitySnapshot, now: number, settings: IdleRuleSettings): CheckDecision {
  const nextCheckAt = now + settings.timeoutInterval * 1000;
  if (isActive(snapshot, now, settings)) return { kind: 'reschedule', strikes: 0, nextCheckAt };
  const finalLook = snapshot.strikes >= 1;
  return finalLook ? { kind: 'stop' } : { kind: 'reschedule', strikes: 1, nextCheckAt };
}

/**
 * The latest sign of activity and where it came from: a check-in with a non-zero count, or a sample that saw
 * a connection. (A check-in reporting 0 is no activity.)
 */
export function lastActivity(snapshot: Pick<ActivitySnapshot, 'active' | 'checkinAt' | 'observedAt'>): { at: number; source: ActivitySource } | null {
  const reported = snapshot.active > 0 ? snapshot.checkinAt : null;
  const observed = snapshot.observedAt;
  if (reported === null && observed === null) return null;
  if (observed === null || (reported !== null && reported >= observed)) return { at: reported as number, source: 'reported' };
  return { at: observed, source: 'observed' };
}

/** When the first idle decision after a start falls due. */
export function firstCheckAt(startedAt: number, initialTimeoutInterval: number): number {
  return startedAt + initialTimeoutInterval * 1000;
}
