import type { ContainerRecord, PortMap, RuntimeContainer } from './record.js';
import { startPatch, type FirstCheck } from './record.js';

/**
 * What a container carries about itself, as labels: everything its record needs that the engine cannot tell
 * (Docker is the truth of what exists; Redis is an index rebuilt from this). Nothing secret: the token only
 * as its SHA-256, the SSH keys only as their fingerprints, never the environment.
 */
export const LABELS = {
  /** This installation's name (SD_INSTANCE): which server the container belongs to. */
  instance: 'io.spin-docker.instance',
  /** The create that made it, so that an unfinished create's container can be told apart (see consistency.ts). */
  createId: 'io.spin-docker.create-id',
  /** The image reference as the client asked for it. */
  image: 'io.spin-docker.image',
  /** Epoch ms of the create. */
  createdAt: 'io.spin-docker.created-at',
  /** SHA-256 (hex) of its check-in token. */
  tokenHash: 'io.spin-docker.token-sha256',
  /** Fingerprints of the SSH keys it was given, comma-separated. */
  sshKeys: 'io.spin-docker.ssh-keys',
  /** Its stable host ports, `22/tcp=20001,80/tcp=20002` (Docker keeps them as bindings too). */
  ports: 'io.spin-docker.ports',
  /** Whether a connection wakes it while it is stopped, `true` or `false`. */
  wake: 'io.spin-docker.wake',
  /** Its deadlines as given at create (epoch ms): stopped then, deleted then. An extend lives in the store only. */
  stopAt: 'io.spin-docker.stop-at',
  deleteAt: 'io.spin-docker.delete-at',
  /** Set on a container made anew on other ports: the image of its file system, removed with it. */
  movedImage: 'io.spin-docker.moved-image',
} as const;

/** The part of a record that never changes after the create, as the labels keep it. */
export interface RecordIdentity {
  readonly createId: string;
  readonly image: string;
  readonly createdAt: number;
  readonly tokenHash: string;
  readonly sshKeys: readonly string[];
  /** Stable host ports by container port; empty for a container made before they were. */
  readonly ports: PortMap;
  readonly wakeOnConnect: boolean;
  readonly stopAt: number | null;
  readonly deleteAt: number | null;
}

/** The labels a new container gets (besides the installation's own, which the engine adapter sets). */
export function identityLabels(identity: RecordIdentity): Record<string, string> {
  return {
    [LABELS.createId]: identity.createId,
    [LABELS.image]: identity.image,
    [LABELS.createdAt]: String(identity.createdAt),
    [LABELS.tokenHash]: identity.tokenHash,
    [LABELS.sshKeys]: identity.sshKeys.join(','),
    [LABELS.ports]: Object.entries(identity.ports)
      .map(([inside, outside]) => `${inside}=${outside}`)
      .join(','),
    [LABELS.wake]: String(identity.wakeOnConnect),
    ...(identity.stopAt === null ? {} : { [LABELS.stopAt]: String(identity.stopAt) }),
    ...(identity.deleteAt === null ? {} : { [LABELS.deleteAt]: String(identity.deleteAt) }),
  };
}

const epochMs = (text: string | undefined) => (text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : null);

function portsFromLabel(text: string | undefined): PortMap {
  const ports: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    const match = /^(\d{1,5}\/(?:tcp|udp|sctp))=(\d{1,5})$/.exec(pair.trim());
    if (match) ports[match[1] as string] = match[2] as string;
  }
  return ports;
}

/**
 * A container's identity read back from its labels. A container made before labels carried it (or by hand)
 * falls back on what the engine says: its image and creation time, no token, no keys.
 */
export function identityFromLabels(actual: Pick<RuntimeContainer, 'labels' | 'image' | 'createdAt'>): RecordIdentity {
  const { labels } = actual;
  const createdAt = Number(labels[LABELS.createdAt]);
  const keys = labels[LABELS.sshKeys] ?? '';
  return {
    createId: labels[LABELS.createId] ?? '',
    image: labels[LABELS.image] || actual.image,
    createdAt: Number.isFinite(createdAt) && createdAt > 0 ? createdAt : actual.createdAt,
    tokenHash: /^[0-9a-f]{64}$/.test(labels[LABELS.tokenHash] ?? '') ? (labels[LABELS.tokenHash] as string) : '',
    sshKeys: keys === '' ? [] : keys.split(','),
    ports: portsFromLabel(labels[LABELS.ports]),
    wakeOnConnect: labels[LABELS.wake] === 'true',
    stopAt: epochMs(labels[LABELS.stopAt]),
    deleteAt: epochMs(labels[LABELS.deleteAt]),
  };
}

/**
 * The record of a container that has none (the store was lost or emptied): its identity from its labels, its
 * state from the engine, and a fresh idle check as after a start. A deadline of its labels already passed (it
 * may have been extended since: extends live in the store) is put `graceMs` ahead, so that a lost store never
 * stops or deletes a container at once, and its warning comes first.
 */
export function adoptedRecord(actual: RuntimeContainer, now: number, firstCheck: FirstCheck, graceMs: number): ContainerRecord {
  const identity = identityFromLabels(actual);
  const ahead = (at: number | null) => (at === null ? null : Math.max(at, now + graceMs));
  return {
    id: actual.id,
    name: actual.name,
    image: identity.image,
    createdAt: identity.createdAt,
    tokenHash: identity.tokenHash,
    sshKeys: identity.sshKeys,
    wakeOnConnect: identity.wakeOnConnect,
    // A stopped container's ports: as its labels keep them (a listing does not say).
    ports: identity.ports,
    stopAt: ahead(identity.stopAt),
    deleteAt: ahead(identity.deleteAt),
    extendedUntil: null,
    warnedFor: null,
    ...startPatch({ startCount: 0 }, actual, now, firstCheck),
    ...(actual.running ? {} : { stopReason: 'adopted' }),
  };
}
