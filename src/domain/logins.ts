/**
 * The login throttle's rule for slowing a client down (the counting itself is the LoginThrottle port's, in
 * Redis): from the 4th failure of a client each answer is held back a little longer; at SD_LOGIN_MAX_FAILURES
 * the client is refused (429) for the lockout, even with the right password; once the failures of all clients
 * together reach the global budget, every login is refused until the window ends, so that guessing from many
 * addresses cannot go on either.
 */
export interface DelayPolicy {
  /** Failures answered at once before answers start to be slowed down. */
  readonly freeFailures: number;
  /** Added to the answer per failure beyond the free ones, up to `maxDelayMs`. */
  readonly delayStepMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_DELAY: DelayPolicy = { freeFailures: 3, delayStepMs: 250, maxDelayMs: 2_000 };

/** How long to hold back the answer to a client's `failures`-th failed login. */
export function failureDelay(failures: number, policy: DelayPolicy = DEFAULT_DELAY): number {
  const over = failures - policy.freeFailures;
  return over > 0 ? Math.min(over * policy.delayStepMs, policy.maxDelayMs) : 0;
}
