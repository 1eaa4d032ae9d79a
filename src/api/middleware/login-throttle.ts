/** What the throttle says about the next login attempt from an address. */
export type LoginVerdict = { readonly kind: 'allow'; readonly delayMs: number } | { readonly kind: 'refuse'; readonly retryAfterSeconds: number };

export interface LoginThrottleOptions {
  /** Failed logins in a row after which an address is refused. */
  readonly maxFailures: number;
  /** How long it is refused, and how long failures are remembered. */
  readonly lockoutMs: number;
  /** Failures answered at once before answers start to be slowed down. */
  readonly freeFailures?: number;
  /** Added to the answer per failure beyond the free ones, up to `maxDelayMs`. */
  readonly delayStepMs?: number;
  readonly maxDelayMs?: number;
  /** Addresses remembered at most; the oldest are forgotten first. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

interface Entry {
  failures: number;
  firstAt: number;
  lockedUntil: number;
}

/**
 * Failed Basic-auth logins per client address: the first few are answered at once, then each answer is
 * slowed down a little more, and at `maxFailures` the address is refused (429) for `lockoutMs`, even with
 * the right password, so that guessing cannot go on. Other addresses are never affected. In memory, per API
 * process: bounded in size, and forgotten on restart.
 */
export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly freeFailures: number;
  private readonly delayStepMs: number;
  private readonly maxDelayMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: LoginThrottleOptions) {
    this.freeFailures = options.freeFailures ?? 3;
    this.delayStepMs = options.delayStepMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 2_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Asked before the credentials are looked at. */
  check(address: string): LoginVerdict {
    const entry = this.current(address);
    if (entry !== undefined && entry.lockedUntil > this.now()) {
      return { kind: 'refuse', retryAfterSeconds: Math.ceil((entry.lockedUntil - this.now()) / 1000) };
    }
    return { kind: 'allow', delayMs: 0 };
  }

  /** Records a failed login; says how long to hold the 401 back, or that the address is now refused. */
  fail(address: string): LoginVerdict {
    const now = this.now();
    const entry = this.current(address) ?? { failures: 0, firstAt: now, lockedUntil: 0 };
    entry.failures += 1;
    this.entries.delete(address);
    this.entries.set(address, entry);
    this.evict();
    if (entry.failures >= this.options.maxFailures) {
      entry.lockedUntil = now + this.options.lockoutMs;
      return { kind: 'refuse', retryAfterSeconds: Math.ceil(this.options.lockoutMs / 1000) };
    }
    const over = entry.failures - this.freeFailures;
    return { kind: 'allow', delayMs: over > 0 ? Math.min(over * this.delayStepMs, this.maxDelayMs) : 0 };
  }

  /** A successful login clears the address's failures. */
  succeed(address: string): void {
    this.entries.delete(address);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry, unless its failures are older than the lockout period and it is not locked. */
  private current(address: string): Entry | undefined {
    const entry = this.entries.get(address);
    if (entry === undefined) return undefined;
    const now = this.now();
    if (entry.lockedUntil <= now && now - entry.firstAt > this.options.lockoutMs) {
      this.entries.delete(address);
      return undefined;
    }
    return entry;
  }

  private evict(): void {
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) return;
      this.entries.delete(oldest);
    }
  }
}
