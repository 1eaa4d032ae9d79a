import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, vi } from 'vitest';
import { freePort } from './net.js';

/**
 * A real registry on loopback (Debian's docker-registry, the CNCF distribution registry) with a throw-away
 * storage folder. The engine pushes to and pulls from 127.0.0.0/8 over plain HTTP without being told.
 */
export class PrivateRegistry {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'sd-registry-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRegistry> {
    const registry = new PrivateRegistry(await freePort());
    const config = join(registry.dir, 'config.yml');
    writeFileSync(
      config,
      `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(registry.dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${registry.port}\n`,
    );
    registry.child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
    await vi.waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${registry.port}/v2/`);
        expect(res.status).toBe(200);
      },
      { timeout: 15_000, interval: 100 },
    );
    return registry;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  async destroy(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP proxy in front of a port that passes at most `bytesPerSecond` from the server to each client, so that
 * a pull takes long enough to be watched and to be cut off; `cut()` drops every connection and stops
 * accepting, as a registry that went away.
 */
export class SlowProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly port: number,
    private readonly target: number,
    private readonly bytesPerSecond: number,
  ) {}

  static async start(target: number, bytesPerSecond: number): Promise<SlowProxy> {
    const proxy = new SlowProxy(await freePort(), target, bytesPerSecond);
    await proxy.up();
    return proxy;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: this.target });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream);
      // Server → client in slices, each after the time its size takes at the rate.
      upstream.on('data', (chunk: Buffer) => {
        upstream.pause();
        client.write(chunk);
        setTimeout(() => upstream.resume(), (chunk.length / this.bytesPerSecond) * 1000);
      });
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.end());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
