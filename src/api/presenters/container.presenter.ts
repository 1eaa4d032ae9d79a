import { lastActivity } from '../../domain/activity/idle-rule.js';
import { appPort, sshPort, type ContainerRecord } from '../../domain/containers/record.js';

/** The container object of API.md: eight strings that never change, then additions. */
export interface ContainerView {
  container_id: string;
  name: string;
  image: string;
  status: string;
  active: string;
  ssh_port: string;
  app_port: string;
  uri: string;
  /** Every published port: container port → host port. */
  ports: Record<string, string>;
  created_at: string;
  /** ISO time of the latest check-in of this run, or null. */
  last_check_in: string | null;
  /** ISO time the idle monitor looks next, or null when it will not. */
  next_check_at: string | null;
  /** Client connections at the worker's latest sample, as a string; "" when not sampled (or unknown). */
  connections: string;
  /** ISO time of the latest sign of activity (a non-zero check-in, or a sample that saw a connection), or null. */
  last_activity_at: string | null;
  /** Where that sign came from. */
  activity_source: 'observed' | 'reported' | null;
  /** Fingerprints (SHA256:…) of the SSH keys the container was given; the keys and any env are never shown. */
  ssh_keys: string[];
}

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
