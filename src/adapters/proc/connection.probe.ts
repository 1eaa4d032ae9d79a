import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectionProbe, ProbeSample, ProbeTarget } from '../../domain/ports.js';
import { connectionsByPort, interfaceBytes, parseTcpTable } from './net-tcp.js';

/**
 * Counts a container's client connections from this host, without entering the container: the kernel lists
 * the sockets of a network namespace in /proc/<pid>/net/tcp and tcp6 of any process in it, readable by any
 * user in the host's PID namespace. Per-host work: a multi-host engine runs one of these on every node.
 */
export class ProcConnectionProbe implements ConnectionProbe {
  constructor(
    /** Where the host's process tables are (SD_PROC_ROOT, `/proc`). */
    private readonly procRoot: string,
    /** The engine's address (DOCKER_HOST): observation needs the engine on this host. */
    private readonly dockerHost: string,
  ) {}

  async unavailable(): Promise<string | null> {
    if (!this.dockerHost.startsWith('unix://')) {
      return `the Docker engine is not on this host (DOCKER_HOST=${this.dockerHost}), so its containers' sockets cannot be read here`;
    }
    try {
      await readFile(join(this.procRoot, 'self', 'net', 'tcp'), 'utf8');
      return null;
    } catch (error) {
      return `${join(this.procRoot, 'self', 'net', 'tcp')} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); SD_PROC_ROOT must name the host's /proc`;
    }
  }

  async sample(target: ProbeTarget, options: { readonly bytes: boolean }): Promise<ProbeSample | null> {
    if (target.ports.length === 0 && !options.bytes) return { connections: 0, byPort: {}, bytes: null };
    if (target.pid <= 0) return null;
    const dir = join(this.procRoot, String(target.pid));
    try {
      // The PID must still be the container's (a PID of another namespace, or one reused, is not).
      const cgroup = await readFile(join(dir, 'cgroup'), 'utf8');
      if (!cgroup.includes(target.id)) return null;
      const [tcp, tcp6, dev] = await Promise.all([
        target.ports.length === 0 ? '' : readFile(join(dir, 'net', 'tcp'), 'utf8').catch(() => ''),
        target.ports.length === 0 ? '' : readFile(join(dir, 'net', 'tcp6'), 'utf8').catch(() => ''),
        options.bytes ? readFile(join(dir, 'net', 'dev'), 'utf8').catch(() => null) : null,
      ]);
      const byPort = connectionsByPort([...parseTcpTable(tcp), ...parseTcpTable(tcp6)], new Set(target.ports));
      const connections = Object.values(byPort).reduce((sum, n) => sum + n, 0);
      return { connections, byPort, bytes: dev === null ? null : interfaceBytes(dev) };
    } catch {
      return null;
    }
  }
}
