import { connect, createServer, type Socket } from 'node:net';

/** Opens a TCP connection to 127.0.0.1:port and resolves with the first bytes it answers (or '' on close). */
export function firstBytes(port: number | string, send = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from port ${port}`));
    }, 5000);
    socket.once('connect', () => {
      if (send) socket.write(send);
    });
    socket.once('data', (data) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data.toString('utf8'));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Opens a TCP connection and keeps it open (an "active connection" for the demo image's reporter). */
export function holdOpen(port: number | string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Asserts `check` keeps passing for `ms` (a bounded observation, for "it stays up" claims). */
export async function keepsPassing(ms: number, check: () => Promise<void>, everyMs = 250): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    await check();
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
