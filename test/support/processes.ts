import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi, expect } from 'vitest';
import { freePort } from './net.js';

/** A real process of ours (dist/api/main.js or dist/worker/main.js), its output kept for waiting on. */
export interface ServerProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Waits until the output contains `text` (after `from`, an earlier length of the output). */
  waitFor(text: string, from?: number, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code once the process has ended. */
  exited(): Promise<number | null>;
}

export function startProcess(script: 'api' | 'worker', env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, [`dist/${script}/main.js`], {
    env: { PATH: process.env.PATH, SD_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    async waitFor(text, from = 0, timeoutMs = 30_000) {
      await vi.waitFor(() => expect(output.slice(from)).toContain(text), { timeout: timeoutMs, interval: 50 });
    },
    exited: () => exit,
  };
}

/** Stops a process for good (SIGKILL) if it still runs. */
export async function kill(proc: ServerProcess | undefined): Promise<void> {
  if (proc === undefined || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGKILL');
  await proc.exited();
}

/** A redis-server of the test's own, append-only, that can be stopped and started again on the same data. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'sd-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.up();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--save', ''], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.child = child;
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    await vi.waitFor(() => expect(output).toMatch(/Ready to accept connections/), { timeout: 10_000, interval: 50 });
  }

  /** SIGTERM: Redis writes what it has and exits, as at a restart. */
  async down(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A unix-socket proxy in front of the Docker engine. `down()` makes the engine unreachable for whoever uses
 * the proxy, as a stopped dockerd would (the socket disappears, open connections break), without touching the
 * engine every other test shares; `up()` brings it back.
 */
export class DockerProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'sd-docker-'));
  readonly path = join(this.dir, 'docker.sock');
  /** Every request line that went through ("GET /v1.41/images/json"), in order. */
  readonly requests: string[] = [];
  /**
   * Requests whose line matches this are never handed to the engine (nor anything after them on that
   * connection): the client waits for an answer that does not come, as from an engine stuck in that call.
   */
  hold: RegExp | undefined;

  /** Connections open through the proxy right now whose requests match `pattern`. */
  openMatching(pattern: RegExp): number {
    return [...this.connections.values()].filter((lines) => lines.some((line) => pattern.test(line))).length;
  }

  private readonly connections = new Map<Socket, string[]>();

  constructor(private readonly target = '/var/run/docker.sock') {}

  get dockerHost(): string {
    return `unix://${this.path}`;
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const lines: string[] = [];
      this.connections.set(client, lines);
      client.once('close', () => this.connections.delete(client));
      const engine = connect(this.target);
      for (const socket of [client, engine]) {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      let held = false;
      client.on('data', (chunk: Buffer) => {
        for (const match of chunk.toString('latin1').matchAll(/^(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/gm)) {
          this.requests.push(`${match[1]} ${match[2]}`);
          lines.push(`${match[1]} ${match[2]}`);
          if (this.hold?.test(`${match[1]} ${match[2]}`)) held = true;
        }
        if (!held) engine.write(chunk);
      });
      engine.pipe(client);
      client.once('close', () => engine.destroy());
      engine.once('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  async destroy(): Promise<void> {
    await this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A Docker engine that hangs: a unix socket that accepts every connection and never answers. Counts the
 * connections still open, so that a test can tell whether a client drops what it gave up on.
 */
export class HungEngine {
  private readonly sockets = new Set<Socket>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'sd-hung-'));
  readonly path = join(this.dir, 'docker.sock');
  private server: Server | undefined;

  get dockerHost(): string {
    return `unix://${this.path}`;
  }

  /** Connections accepted and not yet closed by the client. */
  get open(): number {
    return this.sockets.size;
  }

  async up(): Promise<void> {
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('close', () => this.sockets.delete(socket));
      socket.resume();
    });
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
    this.server = server;
  }

  async destroy(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
