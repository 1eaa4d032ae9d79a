/**
 * Durations as people write them: `90m`, `8h`, `14d`, `2h30m`, `45s`, or plain seconds (`3600`). Pure, so that
 * the API, the configuration and the CLI read them alike.
 */
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };
const WHOLE = /^(?:\d{1,9}[smhd])+$/;

/** Seconds, or null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const value = text.trim().toLowerCase();
  if (/^\d{1,9}$/.test(value)) return Number(value);
  if (!WHOLE.test(value)) return null;
  let seconds = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)([smhd])/g)) seconds += Number(amount) * (UNIT_SECONDS[unit as string] ?? 0);
  return seconds;
}

/** Seconds for people: "2h 0m", "14d", "45 s", "3 min". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 86_400 && s % 3600 === 0) return s % 86_400 === 0 ? `${s / 86_400}d` : `${Math.floor(s / 86_400)}d ${(s % 86_400) / 3600}h`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  if (s >= 60) return `${Math.floor(s / 60)} min`;
  return `${s} s`;
}
