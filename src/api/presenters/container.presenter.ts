import { lastActivity } from '../../domain/activity/idle-rule.js';
import { appPort, sshPort, type ContainerRecord } from '../../domain/containers/record.js';
import type { ContainerView } from '../schemas/responses.js';

/** The container object of API.md: eight strings that never change, then additions (schemas/responses.ts). */
export type { ContainerView };

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function presentContainer(record: ContainerRecord): ContainerView {
  const activity = lastActivity(record);
  return {
    container_id: record.id,
    name: record.name,
    image: record.image,
    status: record.status,
    active: String(record.active),
    ssh_port: sshPort(record.ports),
    app_port: appPort(record.ports),
    uri: `/v1/containers/${record.id}`,
    ports: { ...record.ports },
    created_at: new Date(record.createdAt).toISOString(),
    last_check_in: iso(record.checkinAt),
    next_check_at: iso(record.nextCheckAt),
    connections: record.connections === null ? '' : String(record.connections),
    last_activity_at: iso(activity?.at ?? null),
    activity_source: activity?.source ?? null,
    ssh_keys: [...record.sshKeys],
  };
}
