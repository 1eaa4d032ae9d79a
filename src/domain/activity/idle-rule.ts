/**
 * The idle-stop rule (API.md, "Activity monitoring"), as pure functions of a record and the clock.
 *
 * A container is active at a check when its latest check-in reported a non-zero count and arrived within
 * the last `timeoutInterval` seconds. Idle at a first look earns one final look an interval later; idle at
 * that final look stops it. Active at any look resets the count.
 */

export interface ActivitySnapshot {
  readonly active: number;
  /** Epoch ms of the latest check-in, or null. */
  readonly checkinAt: number | null;
  /** Idle looks in a row so far. */
  readonly strikes: number;
}

export interface IdleRuleSettings {
  /** Seconds between checks, and how long a check-in stays fresh. */
  readonly timeoutInterval: number;
}

export type CheckDecision =
  | { readonly kind: 'reschedule'; readonly strikes: number; readonly nextCheckAt: number }
  | { readonly kind: 'stop' };

export function isActive(snapshot: ActivitySnapshot, now: number, settings: IdleRuleSettings): boolean {
  if (snapshot.active <= 0 || snapshot.checkinAt === null) return false;
  return now - snapshot.checkinAt <= settings.timeoutInterval * 1000;
}

export function decideCheck(snapshot: ActivitySnapshot, now: number, settings: IdleRuleSettings): CheckDecision {
  const nextCheckAt = now + settings.timeoutInterval * 1000;
  if (isActive(snapshot, now, settings)) return { kind: 'reschedule', strikes: 0, nextCheckAt };
  const finalLook = snapshot.strikes >= 1;
  return finalLook ? { kind: 'stop' } : { kind: 'reschedule', strikes: 1, nextCheckAt };
}

/** When the first check of a run falls due. */
export function firstCheckAt(startedAt: number, initialTimeoutInterval: number): number {
  return startedAt + initialTimeoutInterval * 1000;
}
