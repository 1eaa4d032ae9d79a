import type { PortTakenError } from '../errors.js';
import { unavailable } from '../errors.js';
import type { Clock, ContainerStore, HostPorts } from '../ports.js';
import type { PortMap } from './record.js';
import type { ContainerSettings } from './settings.js';

export interface HostPortDeps {
  readonly store: Pick<ContainerStore, 'reservePorts' | 'releasePorts' | 'markPortsForeign'>;
  /** Whether a port is free on this host; where the server does not share the host's network, every port looks free. */
  readonly hostPorts: HostPorts;
  readonly clock: Clock;
  readonly settings: Pick<ContainerSettings, 'portRange'>;
}

/** How long a port found in use by something else is not handed out again. */
const FOREIGN_FOR_MS = 10 * 60 * 1000;
const ATTEMPTS = 5;

const noPorts = (range: ContainerSettings['portRange'], count: number) =>
  unavailable('no_ports', `No ${count} free host ports are left in SD_PORT_RANGE (${range.first}-${range.last}); delete containers or widen the range`);

/**
 * Stable host ports: each exposed port of a new container gets a port of SD_PORT_RANGE that no record holds,
 * no other create holds and nothing on this host listens on, for the container's whole life (Docker binds it
 * explicitly, so every start reuses it; the record and the container's labels keep it).
 */
export function createHostPorts({ store, hostPorts, clock, settings }: HostPortDeps) {
  const range = settings.portRange;
  return {
    /** Host ports for `exposed` ("80/tcp"), held for create `createId` (whose mark must be set). */
    async allocate(exposed: readonly string[], createId: string): Promise<PortMap> {
      if (exposed.length === 0) return {};
      for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
        const taken = await store.reservePorts(exposed.length, createId, range, clock.now());
        if (taken.length < exposed.length) throw noPorts(range, exposed.length);
        const busy = (await Promise.all(taken.map(async (port) => ((await hostPorts.isFree(Number(port))) ? null : port)))).filter((port) => port !== null);
        if (busy.length === 0) return Object.fromEntries(exposed.map((spec, i) => [spec, taken[i] as string]));
        await store.markPortsForeign(busy, clock.now() + FOREIGN_FOR_MS);
        await store.releasePorts(`create:${createId}`, taken);
      }
      throw noPorts(range, exposed.length);
    },

    /** Gives back what create `createId` held (it failed, and will not be retried with these). */
    release: (createId: string, ports: PortMap) => store.releasePorts(`create:${createId}`, Object.values(ports)),

    /** A port the engine found taken is not handed out again for a while. */
    async markTaken(error: PortTakenError): Promise<void> {
      await store.markPortsForeign([String(error.port)], clock.now() + FOREIGN_FOR_MS);
    },
  };
}

export type HostPortAllocator = ReturnType<typeof createHostPorts>;
