import type { PortTakenError } from '../errors.js';
import type { Clock, ContainerOperations, ContainerStore, EventLog, Logger } from '../ports.js';
import type { HostPortAllocator } from './host-ports.js';
import { LABELS } from './labels.js';
import type { ContainerRecord } from './record.js';
import type { ContainerSettings } from './settings.js';

export interface PortMoveDeps {
  readonly runtime: Pick<ContainerOperations, 'recreate'>;
  readonly store: ContainerStore;
  readonly hostPorts: HostPortAllocator;
  readonly events: Pick<EventLog, 'publish'>;
  readonly clock: Clock;
  readonly settings: Pick<ContainerSettings, 'orphanGrace'>;
  readonly logger: Pick<Logger, 'warn'>;
}

/**
 * A host port of a stopped container turned out to be taken by something else at its start (while nothing of
 * ours held it: wake off, or the worker down). Docker cannot change a container's bindings, so the container
 * is made anew on a free port for the one taken: its file system, volumes, settings and labels carried over,
 * under a new id, which the old one resolves to from then on. Says so in the log and as `container.port_moved`.
 * Returns the new record, stopped.
 */
export async function moveTakenPort(deps: PortMoveDeps, record: ContainerRecord, taken: PortTakenError): Promise<ContainerRecord> {
  const { runtime, store, hostPorts, events, clock, settings, logger } = deps;
  const spec = Object.entries(record.ports).find(([, host]) => host === String(taken.port))?.[0];
  if (spec === undefined) throw taken;
  await hostPorts.markTaken(taken);
  // A create of its own: marked, so that should this be cut short the new container is known for what it is.
  const moveId = `move-${record.id.slice(0, 12)}-${clock.now()}`;
  await store.markCreate(moveId, clock.now() + settings.orphanGrace * 1000);
  const fresh = await hostPorts.allocate([spec], moveId);
  const ports = { ...record.ports, ...fresh };
  const labels = {
    [LABELS.createId]: moveId,
    [LABELS.ports]: Object.entries(ports)
      .map(([inside, outside]) => `${inside}=${outside}`)
      .join(','),
  };
  const actual = await runtime.recreate(record.id, { ports, labels });
  const moved: ContainerRecord = { ...record, id: actual.id, name: actual.name, ports };
  await store.insert(moved, moveId);
  await store.remove(record.id);
  await store.setAlias(record.id, actual.id);
  const detail = { container_port: spec, from: taken.port, to: Number(fresh[spec]), former_id: record.id };
  logger.warn({ containerId: actual.id, ...detail }, 'a host port was taken by something else: the container was made anew on another');
  await events.publish({ type: 'container.port_moved', record: moved, detail }).catch(() => undefined);
  return moved;
}
