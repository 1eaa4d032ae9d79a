import { describeKeptBy } from '../../domain/activity/explain.js';
import { lastActivity, type IdleRuleSettings } from '../../domain/activity/idle-rule.js';
import { appPort, sshPort, type ContainerRecord } from '../../domain/containers/record.js';
import type { ContainerView } from '../schemas/responses.js';

/** The container object of API.md: eight strings that never change, then additions (schemas/responses.ts). */
export type { ContainerView };

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** What the object says that comes from the server's settings: the idle rule, for `kept_by`. */
export type PresentationSettings = IdleRuleSettings & { readonly quietConnection: number | null };

const DEFAULT_RULES: PresentationSettings = { timeoutInterval: 1800, activitySources: { observed: true, reported: true }, quietConnection: null };

/** A record presented under these settings. */
export type Present = (record: ContainerRecord) => ContainerView;

/** The presenter of this server's settings (what `kept_by` says follows its idle rule). */
export const containerPresenter =
  (rules: PresentationSettings): Present =>
  (record) =>
    presentContainer(record, rules);

export function presentContainer(record: ContainerRecord, rules: PresentationSettings = DEFAULT_RULES, now = Date.now()): ContainerView {
  const activity = lastActivity(record);
  const asleep = record.status === 'stopped' && record.wakeOnConnect;
  // Its ports answer while it runs, and while it sleeps (a connection wakes it); otherwise a stopped
  // container's ports are blank, as the original's were.
  const shown = record.status === 'stopped' && !asleep ? {} : record.ports;
  return {
    container_id: record.id,
    name: record.name,
    image: record.image,
    status: record.status,
    active: String(record.active),
    ssh_port: sshPort(shown),
    app_port: appPort(shown),
    uri: `/v1/containers/${record.id}`,
    ports: { ...shown },
    created_at: new Date(record.createdAt).toISOString(),
    last_check_in: iso(record.checkinAt),
    next_check_at: iso(record.nextCheckAt),
    connections: record.connections === null ? '' : String(record.connections),
    last_activity_at: iso(activity?.at ?? null),
    activity_source: activity?.source ?? null,
    ssh_keys: [...record.sshKeys],
    wake_on_connect: record.wakeOnConnect,
    asleep,
    stop_at: iso(record.status === 'running' || record.status === 'stopping' ? record.stopAt : null),
    delete_at: iso(record.deleteAt),
    stop_reason: record.status === 'running' ? null : record.stopReason,
    kept_by: describeKeptBy(record, now, rules),
    node: record.node === '' ? null : record.node,
  };
}
