import { createServer } from 'node:net';
import type { HostPorts } from '../../domain/ports.js';

/** Whether a TCP port of this host's `address` is free, by binding it for a moment (nothing is accepted). */
export class BindProbe implements HostPorts {
  constructor(private readonly address: string) {}

  isFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const server = createServer();
      server.unref();
      server.once('error', () => resolve(false));
      server.listen({ port, host: this.address, exclusive: true }, () => server.close(() => resolve(true)));
    });
  }
}
