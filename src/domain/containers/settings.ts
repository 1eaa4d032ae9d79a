import type { AuthorizedKey } from './options.js';
import type { FirstCheck } from './record.js';

/** How the server runs containers: the part of the configuration the container use cases need. */
export interface ContainerSettings {
  readonly disableTimeouts: boolean;
  /** Seconds from a start to the first idle check. */
  readonly initialTimeoutInterval: number;
  /** Seconds between idle checks, and how long a sign of activity counts. */
  readonly timeoutInterval: number;
  /** Which signs of activity count at a check. */
  readonly activitySources: { readonly observed: boolean; readonly reported: boolean };
  /** Seconds Docker waits after SIGTERM. */
  readonly stopTimeout: number;
  /** Handed to every container as SD_CHECKIN_URL, when known. */
  readonly checkinUrl: string | undefined;
  /** Seconds an unfinished create's container may exist without a record before it is removed. */
  readonly orphanGrace: number;
  /** Patterns every image created from must match (`*` wildcards). */
  readonly allowedImages: readonly string[];
  /** Keys for containers created without any (SD_SSH_AUTHORIZED_KEYS_FILE). */
  readonly defaultSshKeys: readonly AuthorizedKey[];
  /** Host ports containers' exposed ports get one of, for their whole life. */
  readonly portRange: { readonly first: number; readonly last: number };
  /** Exposed ports one container may have. */
  readonly maxPorts: number;
  /** Containers kept at once, running or stopped; 0: no limit. */
  readonly maxContainers: number;
  /** Whether a stopped container wakes on a connection, unless its create said otherwise. */
  readonly wakeOnConnect: boolean;
  /** Seconds: the longest a stop deadline may be ahead (and every container's when its create gives none); null: none. */
  readonly maxLifetime: number | null;
  /** Seconds a container may stay stopped before it is deleted; null: for ever. */
  readonly deleteStoppedAfter: number | null;
  /** Seconds before a deadline that `container.expiring` says so. */
  readonly expiryWarning: number;
  /** Seconds an open connection may carry no traffic and still count as use; null: it always counts. */
  readonly quietConnection: number | null;
}

/** When a fresh start is first looked at by the idle check. */
export const firstCheck = (settings: Pick<ContainerSettings, 'disableTimeouts' | 'initialTimeoutInterval'>): FirstCheck => ({
  afterSeconds: settings.disableTimeouts ? null : settings.initialTimeoutInterval,
});
