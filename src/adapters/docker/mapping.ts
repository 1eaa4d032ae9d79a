import type { ContainerInfo, ContainerInspectInfo } from 'dockerode';
import type { PortMap, RuntimeContainer } from '../../domain/containers/record.js';

/** Docker's Ports section (from inspect) → one host port per container port, IPv4 binding preferred. */
export function portsFromInspect(ports: ContainerInspectInfo['NetworkSettings']['Ports'] | undefined): PortMap {
  const out: Record<string, string> = {};
  for (const [spec, bindings] of Object.entries(ports ?? {})) {
    if (!Array.isArray(bindings) || bindings.length === 0) continue;
    const binding = bindings.find((b) => !b.HostIp?.includes(':')) ?? bindings[0];
    if (binding?.HostPort) out[spec] = binding.HostPort;
  }
  return out;
}

/** Docker's Ports list (from a container listing) → the same map. */
export function portsFromListing(ports: ContainerInfo['Ports']): PortMap {
  const out: Record<string, string> = {};
  for (const port of ports) {
    if (port.PublicPort === undefined || port.PublicPort === 0) continue;
    const spec = `${port.PrivatePort}/${port.Type}`;
    if (out[spec] === undefined || !port.IP?.includes(':')) out[spec] = String(port.PublicPort);
  }
  return out;
}

function firstAddress(networks: Record<string, { IPAddress?: string }> | undefined, primary?: string): string {
  if (primary) return primary;
  for (const network of Object.values(networks ?? {})) if (network.IPAddress) return network.IPAddress;
  return '';
}

/** What `GET /containers/<id>/json` says, as the domain reads it. */
export function fromInspect(info: ContainerInspectInfo): RuntimeContainer {
  const running = info.State.Running;
  return {
    id: info.Id,
    name: info.Name,
    image: info.Config.Image,
    running,
    // A stopped container's ports are its bindings (the fixed ones: an ephemeral one is chosen at each start).
    ports: running
      ? portsFromInspect(info.NetworkSettings.Ports)
      : portsFromInspect(info.HostConfig.PortBindings as ContainerInspectInfo['NetworkSettings']['Ports']),
    ip: running ? firstAddress(info.NetworkSettings.Networks, (info.NetworkSettings as { IPAddress?: string }).IPAddress) : '',
    node: '',
    createdAt: Date.parse(info.Created),
    pid: running ? info.State.Pid : 0,
    labels: info.Config.Labels ?? {},
    ended: running ? null : info.State.OOMKilled ? `out of memory (code ${info.State.ExitCode})` : `exited (code ${info.State.ExitCode})`,
  };
}

/** One entry of `GET /containers/json`, as the domain reads it (a listing does not say the PID). */
export function fromListing(info: ContainerInfo): RuntimeContainer {
  const running = info.State === 'running';
  return {
    id: info.Id,
    name: info.Names[0] ?? '',
    image: info.Image,
    running,
    ports: running ? portsFromListing(info.Ports) : {},
    ip: running ? firstAddress(info.NetworkSettings?.Networks) : '',
    node: '',
    createdAt: info.Created * 1000,
    pid: 0,
    labels: info.Labels ?? {},
    // "Exited (137) 5 seconds ago"
    ended: running ? null : /^Exited \((-?\d+)\)/.test(info.Status) ? `exited (code ${/^Exited \((-?\d+)\)/.exec(info.Status)?.[1]})` : null,
  };
}
