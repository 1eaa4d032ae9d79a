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
}

export interface IdleRuleSettings {
  /** Seconds between checks, and how long a sign of activity stays fresh. */
  readonly timeoutInterval: number;
  /** Which signs count. */
  readonly activitySources: { readonly observed: boolean; readonly reported: boolean };
}

export type CheckDecision = { readonly kind: 'reschedule'; readonly strikes: number; readonly nextCheckAt: number } | { readonly kind: 'stop' };

export type ActivitySource = 'observed' | 'reported';

export function isActive(snapshot: ActivitySnapshot, now: number, settings: IdleRuleSettings): boolean {
  const fresh = (at: number | null) => at !== null && now - at <= settings.timeoutInterval * 1000;
  const reported = settings.activitySources.reported && snapshot.active > 0 && fresh(snapshot.checkinAt);
  const observed = settings.activitySources.observed && fresh(snapshot.observedAt);
  return reported || observed;
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

/** When the first check of a run falls due. */
export function firstCheckAt(startedAt: number, initialTimeoutInterval: number): number {
  return startedAt + initialTimeoutInterval * 1000;
}
