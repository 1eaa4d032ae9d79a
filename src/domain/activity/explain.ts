import type { ContainerRecord } from '../containers/record.js';
import { formatDuration } from '../durations.js';
import { keptBy, type IdleRuleSettings } from './idle-rule.js';

const ago = (at: number, now: number) => (now - at < 1000 ? 'just now' : `${formatDuration((now - at) / 1000)} ago`);
/** "18:00 UTC", with the date when it is not the same day. */
const clockTime = (at: number, now: number) => {
  const iso = new Date(at).toISOString();
  const sameDay = iso.slice(0, 10) === new Date(now).toISOString().slice(0, 10);
  return `${sameDay ? '' : `${iso.slice(0, 10)} `}${iso.slice(11, 16)} UTC`;
};

/**
 * What keeps a running container up, in words, from the same rule that decides its idle check (idle-rule.ts
 * keptBy): "2 connections on 5432/tcp, last traffic 3 min ago", "check-in 40 s ago (active=1)", "extended until
 * 18:00 UTC", or, when nothing does, when the idle check will look and what it will do. Null unless running.
 */
export function describeKeptBy(record: ContainerRecord, now: number, settings: IdleRuleSettings & { readonly quietConnection: number | null }): string | null {
  if (record.status !== 'running') return null;
  const why = keptBy(record, now, settings);
  switch (why.by) {
    case 'extend':
      return `extended until ${clockTime(why.until, now)}`;
    case 'connections': {
      const count = record.connections ?? 0;
      if (count === 0) return `a connection ${ago(why.at, now)}`;
      const ports = record.connectedPorts.length > 0 ? ` on ${record.connectedPorts.join(', ')}` : '';
      const traffic = settings.quietConnection !== null && record.trafficAt !== null ? `, last traffic ${ago(record.trafficAt, now)}` : '';
      return `${count} connection${count === 1 ? '' : 's'}${ports}${traffic}`;
    }
    case 'check-in':
      return `check-in ${ago(why.at, now)} (active=${why.active})`;
    case 'nothing': {
      const quiet =
        settings.quietConnection !== null && (record.connections ?? 0) > 0
          ? ` (${record.connections} quiet connection${record.connections === 1 ? '' : 's'}: no traffic for ${formatDuration(settings.quietConnection)})`
          : '';
      const since = why.since === null ? '' : ` since ${ago(why.since, now)}`;
      if (record.nextCheckAt === null) return `nothing${quiet}: no connection or check-in${since}; the idle stop is off`;
      const next = record.strikes >= 1 ? 'stops it' : 'looks again an interval later';
      return `nothing${quiet}: no connection or check-in${since}; the idle check at ${clockTime(record.nextCheckAt, now)} ${next} unless it is used`;
    }
  }
}
