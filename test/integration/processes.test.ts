import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { INSTANCE_LABEL } from '../../src/adapters/docker/docker.runtime.js';
import { TEST_IMAGES } from '../support/images.js';
import { freePort } from '../support/net.js';

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/**
 * `npm start` as a user runs it: the compiled API and worker as two processes, plus a private
 * redis-server with append-only persistence, all stopped together by SIGTERM.
 */
describe('npm start (dist/cli/start.js)', () => {
  const instance = `test-start-${process.pid}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'sd-data-'));
  const docker = new Docker();
  let port = 0;
  let child: ChildProcess;
  let output = '';

  const start = async () => {
    child = spawn(process.execPath, ['dist/cli/start.js'], {
      env: {
        PATH: process.env.PATH,
        SD_PORT: String(port),
        SD_HOST: '127.0.0.1',
        SD_PASSWORD: 'pw',
        SD_INSTANCE: instance,
        SD_DATA_DIR: dataDir,
        SD_EMBEDDED_REDIS_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await vi.waitFor(
      () => {
        expect(output).toContain('worker started');
        expect(output).toContain('API listening');
      },
      { timeout: 20_000, interval: 100 },
    );
  };

  beforeAll(async () => {
    if (!existsSync('dist/cli/start.js')) throw new Error('run `npm run build` first (npm test does)');
    port = await freePort();
    await start();
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited(child);
    }
    const mine = await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${instance}`] } });
    await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the API, runs the worker, persists to disk and keeps records across a restart', async () => {
    const http = () => supertest(`http://127.0.0.1:${port}`);
    const created = await http().post('/v1/containers').auth('admin', 'pw').type('form').send({ image: TEST_IMAGES.noPorts });
    expect(created.status).toBe(201);
    const id = created.body.container_id as string;

    // The worker process does the stop.
    expect((await http().patch(`/v1/containers/${id}`).auth('admin', 'pw').type('form').send({ status: 'stopped' })).body.status).toBe('stopping');
    await expect.poll(async () => (await http().get(`/v1/containers/${id}`).auth('admin', 'pw')).body.status, { timeout: 20_000 }).toBe('stopped');

    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    expect(readdirSync(join(dataDir, 'redis')).join(' ')).toMatch(/appendonly/);

    output = '';
    await start();
    const again = await http().get(`/v1/containers/${id}`).auth('admin', 'pw');
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('stopped');
  });
});
