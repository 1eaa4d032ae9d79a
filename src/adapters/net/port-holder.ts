import { connect, createServer, type Server, type Socket } from 'node:net';

/** A client connection accepted on a sleeping container's host port, held (paused) until it can be joined. */
export interface HeldConnection {
  readonly socket: Socket;
  /** The container's own port it is for. */
  readonly containerPort: number;
  readonly hostPort: number;
  /** Where it came from, "address:port". */
  readonly peer: string;
  readonly acceptedAt: number;
}

export interface PortHolderOptions {
  /** The host address to listen on (SD_PUBLISH_ADDRESS, where Docker publishes them too). */
  readonly address: string;
  /** Called for every connection accepted on one of `id`'s ports. */
  onConnection(id: string, held: HeldConnection): void;
  /** Told when a port cannot be listened on (taken by something else meanwhile). */
  onListenError?(id: string, hostPort: number, error: NodeJS.ErrnoException): void;
}

/**
 * Listens on the host ports of sleeping containers (per-host work: it must run where the ports are): every
 * connection is accepted and paused, its bytes left in the kernel's buffers, until the caller joins it to the
 * woken container or closes it. One listener per host port; closing a container's listeners hands its ports
 * back (Docker binds them as it starts the container) and leaves the held connections as they are.
 */
export class PortHolder {
  /** By id, its listeners by host port. */
  private readonly listening = new Map<string, Map<number, Server>>();

  constructor(private readonly options: PortHolderOptions) {}

  /** Ids whose ports are listened on. */
  ids(): string[] {
    return [...this.listening.keys()];
  }

  has(id: string): boolean {
    return this.listening.has(id);
  }

  /** Whether every one of these host ports of `id` is listened on. */
  holdsAll(id: string, bindings: readonly (readonly [containerPort: number, hostPort: number])[]): boolean {
    const servers = this.listening.get(id);
    return servers !== undefined && bindings.every(([, hostPort]) => servers.has(hostPort));
  }

  /**
   * Listens on each binding (container port → host port) of `id` not listened on yet; a port that cannot be
   * had is reported and skipped (a later call tries it again).
   */
  async open(id: string, bindings: readonly (readonly [containerPort: number, hostPort: number])[]): Promise<void> {
    let servers = this.listening.get(id);
    if (servers === undefined) {
      servers = new Map();
      this.listening.set(id, servers);
    }
    const mine = servers;
    const opened: Server[] = [];
    await Promise.all(
      bindings
        .filter(([, hostPort]) => !mine.has(hostPort))
        .map(
          ([containerPort, hostPort]) =>
            new Promise<void>((resolve) => {
              // Half-open, so that a client's end of sending is passed on once joined; paused, so that nothing is read.
              const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
                socket.on('error', () => socket.destroy());
                const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
                this.options.onConnection(id, { socket, containerPort, hostPort, peer, acceptedAt: Date.now() });
              });
              server.once('error', (error: NodeJS.ErrnoException) => {
                this.options.onListenError?.(id, hostPort, error);
                resolve();
              });
              server.listen({ port: hostPort, host: this.options.address, backlog: 511 }, () => {
                mine.set(hostPort, server);
                opened.push(server);
                resolve();
              });
            }),
        ),
    );
    // Closed while opening: let go of what was opened.
    if (this.listening.get(id) !== mine) await Promise.all(opened.map(closeServer));
  }

  /** Stops listening on `id`'s ports (held connections stay held); resolves once the ports are free. */
  async close(id: string): Promise<void> {
    const servers = this.listening.get(id);
    this.listening.delete(id);
    await Promise.all([...(servers?.values() ?? [])].map(closeServer));
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.ids().map((id) => this.close(id)));
  }
}

/**
 * Stops listening: the port is free once the listening handle is closed, a turn of the event loop later. (The
 * server's own 'close' waits for every connection it accepted, which are held on purpose.)
 */
function closeServer(server: Server): Promise<void> {
  if (server.listening) server.close();
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/**
 * Joins a held connection to `target` once it accepts: tries to connect until it does or `deadline` (epoch
 * ms) passes, then pipes both ways with backpressure; an end of sending (half-close) is passed on, and an
 * error on either side closes both. 'timeout': nothing accepted in time; 'stopped': `alive` said the target
 * stopped meanwhile (both close the held connection); 'gone': the client left first.
 */
export async function join(
  held: HeldConnection,
  target: { readonly host: string; readonly port: number },
  deadline: number,
  alive: () => Promise<boolean>,
): Promise<'joined' | 'timeout' | 'stopped' | 'gone'> {
  let askedAt = Date.now();
  for (let wait = 20; ; wait = Math.min(wait * 1.5, 250)) {
    if (held.socket.destroyed) return 'gone';
    if (Date.now() - askedAt > 500) {
      askedAt = Date.now();
      if (!(await alive())) {
        held.socket.destroy();
        return 'stopped';
      }
    }
    const upstream = await connectOnce(target, Math.max(1, Math.min(2000, deadline - Date.now())));
    if (upstream !== null) {
      pipeBothWays(held.socket, upstream);
      return 'joined';
    }
    if (Date.now() + wait > deadline) {
      held.socket.destroy();
      return 'timeout';
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** Whether `target` accepts a TCP connection now (closed again at once). */
export async function accepts(target: { readonly host: string; readonly port: number }, timeoutMs: number): Promise<boolean> {
  const socket = await connectOnce(target, timeoutMs);
  socket?.destroy();
  return socket !== null;
}

function connectOnce(target: { readonly host: string; readonly port: number }, timeoutMs: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const fail = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(null);
    };
    const timer = setTimeout(fail, timeoutMs);
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

function pipeBothWays(client: Socket, upstream: Socket): void {
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.on('error', closeBoth);
  upstream.on('error', closeBoth);
  // pipe() ends the other side when one side ends (half-close), and pauses a side whose reader is behind.
  client.pipe(upstream);
  upstream.pipe(client);
  // Both directions finished (or one side destroyed): nothing stays open.
  client.once('close', () => upstream.end());
  upstream.once('close', () => client.end());
  client.resume();
}
