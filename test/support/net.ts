import { connect, createServer, type Socket } from 'node:net';
import { BindProbe } from '../../src/adapters/net/host-ports.js';

/** Whether something on this host listens on `port` (it cannot be bound): a wake listener, a published port. */
export const listening = async (port: number): Promise<boolean> => !(await new BindProbe('0.0.0.0').isFree(port));

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

/**
 * The first bytes a port answers, once it answers at all: a container's ports are published before the app
 * inside listens, and a connection taken before that is dropped by Docker's port proxy.
 */
export async function firstBytesOnce(port: number | string, send = '', timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await firstBytes(port, send).catch(() => '');
    if (answer !== '' || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
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
