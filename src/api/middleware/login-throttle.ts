import { isIPv6 } from 'node:net';

/** What the throttle says about a login attempt from an address. */
export type LoginVerdict = { readonly kind: 'allow'; readonly delayMs: number } | Refusal;
/** Where a client stands before it tries: its failures so far, or refused. */
export type LoginStanding = { readonly kind: 'allow'; readonly failures: number } | Refusal;
export interface Refusal {
  readonly kind: 'refuse';
  readonly retryAfterSeconds: number;
}

/**
 * Failed Basic-auth logins, counted per client (see `clientKey`) and in all: from the 4th failure of a client
 * each answer is held back a little longer; at the limit the client is refused (429) for the lockout, even with
 * the right password; once the failures of all clients together reach the global budget, every login is refused
 * until the window ends, so that guessing from many addresses cannot go on either. Kept in Redis, so that it
 * is shared by every API process and survives their restarts (adapters/redis/login-throttle.ts).
 */
export interface LoginThrottle {
  /** Asked before the credentials are looked at. */
  check(address: string): Promise<LoginStanding>;
  /** Records a failed login; says how long to hold the 401 back, or that the client is now refused. */
  fail(address: string): Promise<LoginVerdict>;
  /** A successful login clears the client's failures. */
  succeed(address: string): Promise<void>;
}

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

/**
 * The key a client's failures are counted under: an IPv4 address as it is (also when IPv4-mapped), an IPv6
 * address by its /64, since one host is usually handed a whole /64 and could otherwise rotate through it.
 */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** '2001:db8::1' → ['2001', 'db8', '0', '0', '0', '0', '0', '1'] (a zone id is dropped). */
function expandIPv6(address: string): string[] {
  const plain = address.split('%')[0] ?? address;
  const [head = '', tail] = plain.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 tail takes two groups.
  const groups = (parts: string[]) => parts.flatMap((part) => (part.includes('.') ? ipv4Groups(part) : [part]));
  const l = groups(left);
  const r = groups(right);
  const fill = tail === undefined ? [] : Array<string>(8 - l.length - r.length).fill('0');
  return [...l, ...fill, ...r].map((group) => Number.parseInt(group, 16).toString(16));
}

function ipv4Groups(dotted: string): string[] {
  const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
