import { lastActivity } from '../../domain/activity/idle-rule.js';
import { appPort, sshPort, type ContainerRecord } from '../../domain/containers/record.js';
import type { ContainerView } from '../schemas/responses.js';

/** The container object of API.md: eight strings that never change, then additions (schemas/responses.ts). */
export type { ContainerView };

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function presentContainer(record: ContainerRecord): ContainerView {
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
  };
}
