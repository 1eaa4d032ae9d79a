const UNITS: readonly (readonly [number, string, string])[] = [
  [86_400_000, 'day', 'd'],
  [3_600_000, 'hour', 'h'],
  [60_000, 'minute', 'min'],
  [1000, 'second', 's'],
];

/**
 * A time relative to now, for people: "3 minutes ago", "in 2 hours" (`long`, the CLI), or "3 min ago",
 * "in 2 h" (`short`, the dashboard's narrow cells); "now" within a second; "" for null.
 */
export function relative(iso: string | null, style: 'long' | 'short' = 'long', now = Date.now()): string {
  if (iso === null) return '';
  const delta = Date.parse(iso) - now;
  const size = Math.abs(delta);
  if (size < 1000) return 'now';
  const [unit, long, short] = UNITS.find(([ms]) => size >= ms) ?? UNITS[UNITS.length - 1]!;
  const count = Math.floor(size / unit);
  const words = style === 'short' ? `${count} ${short}` : `${count} ${long}${count === 1 ? '' : 's'}`;
  return delta < 0 ? `${words} ago` : `in ${words}`;
}

/**
 * A clock time for people, "18:00 UTC", with the date when it is not the same UTC day: the server's own
 * wording (`kept_by`), so that the dashboard and the server name a time alike.
 */
export function clockTime(iso: string, now = Date.now()): string {
  const at = new Date(iso).toISOString();
  const sameDay = at.slice(0, 10) === new Date(now).toISOString().slice(0, 10);
  return `${sameDay ? '' : `${at.slice(0, 10)} `}${at.slice(11, 16)} UTC`;
}
