import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerClient } from '../../src/adapters/docker/connection.js';
import { makeEngineCertificates, selfSigned, sign } from '../support/tls.js';

/**
 * DOCKER_CERT_PATH: this machine's real engine behind a real TLS listener that verifies its clients (as
 * `dockerd --tlsverify` does), with certificates made by openssl for the test: the client reaches the engine
 * with the folder's certificates, and nothing reaches it without them or with another authority's.
 */
let dir = '';
let server: Server;
let port = 0;
/** Connections the listener let through to the engine (their client's certificate verified). */
let handedOn = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sd-tls-'));
  const { engine, client } = makeEngineCertificates(dir, ['127.0.0.1']);
  // A client certificate of another authority, trusting the engine's: the engine refuses it.
  const stranger = join(dir, 'stranger');
  selfSigned(join(dir, 'stranger-ca'), 'stranger CA');
  sign(stranger, join(dir, 'stranger-ca'), 'stranger', 'extendedKeyUsage=clientAuth\n');
  copyFileSync(join(engine, 'ca.pem'), join(stranger, 'ca.pem'));
  // The client's own certificate, trusting another authority only: the client refuses the engine.
  const impostor = join(dir, 'impostor');
  selfSigned(impostor, 'impostor CA');
  for (const file of ['cert.pem', 'key.pem']) copyFileSync(join(client, file), join(impostor, file));

  server = createServer(
    {
      key: readFileSync(join(engine, 'key.pem')),
      cert: readFileSync(join(engine, 'cert.pem')),
      ca: readFileSync(join(engine, 'ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (socket) => {
      handedOn += 1;
      const engine = connect('/var/run/docker.sock');
      socket.pipe(engine).pipe(socket);
      socket.on('error', () => engine.destroy());
      engine.on('error', () => socket.destroy());
    },
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('DOCKER_CERT_PATH: the engine over TLS', () => {
  it("reaches the engine with the folder's certificates, verifying the engine's", async () => {
    const docker = createDockerClient(`tcp://127.0.0.1:${port}`, join(dir, 'client'));
    expect(String(await docker.ping())).toBe('OK');
    expect((await docker.version()).ApiVersion).toMatch(/^\d+\.\d+$/);
  });

  it("reaches a unix socket it is given whatever the process's DOCKER_HOST and DOCKER_CERT_PATH say (a swarm node's own engine beside the manager's)", async () => {
    const saved = { host: process.env.DOCKER_HOST, certs: process.env.DOCKER_CERT_PATH };
    process.env.DOCKER_HOST = `tcp://127.0.0.1:${port}`;
    process.env.DOCKER_CERT_PATH = join(dir, 'client');
    try {
      const node = createDockerClient('unix:///var/run/docker.sock');
      // Through the socket: the listener here (the "manager") is not asked.
      const before = handedOn;
      expect(String(await node.ping())).toBe('OK');
      expect(handedOn).toBe(before);
      // And a tcp:// engine without certificates of its own is not given the environment's.
      await expect(createDockerClient(`tcp://127.0.0.1:${port}`).ping()).rejects.toThrow();
    } finally {
      for (const [key, value] of [
        ['DOCKER_HOST', saved.host],
        ['DOCKER_CERT_PATH', saved.certs],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('is refused without them, with a certificate of another authority, and when the engine is not the one ca.pem vouches for', async () => {
    // Plain HTTP to a TLS listener.
    await expect(createDockerClient(`tcp://127.0.0.1:${port}`).ping()).rejects.toThrow();
    // Under TLS 1.3 the client learns of its refusal as a hang-up: what shows it is that nothing was let through.
    const before = handedOn;
    await expect(createDockerClient(`tcp://127.0.0.1:${port}`, join(dir, 'stranger')).ping()).rejects.toThrow();
    expect(handedOn).toBe(before);
    await expect(createDockerClient(`tcp://127.0.0.1:${port}`, join(dir, 'impostor')).ping()).rejects.toThrow(/certificate/i);
  });
});
