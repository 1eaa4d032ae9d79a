import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAppImage, REDIS_IMAGE } from '../support/app-image.js';
import { createDockerClient } from '../../src/adapters/docker/connection.js';
import { startHarness, type Harness } from '../support/harness.js';
import { bootHost, HOST_IMAGE, makeHostImage, removeHost } from '../support/host.js';
import { TEST_IMAGES } from '../support/images.js';
import { freePort, keepsPassing } from '../support/net.js';
import { makeEngineCertificates, type EngineCertificates } from '../support/tls.js';
import { waitUntil } from '../support/wait.js';

/**
 * SD_ENGINE=swarm on a real three-node swarm built on this machine: three hosts made as test/deploy makes a
 * host (systemd in a container, a Docker engine of its own, Debian's docker.io), on a network of the test's
 * own, one manager and two workers. The API runs here and talks to the manager's engine on that network; a
 * worker runs on every node (this repository's build and this machine's Node.js, copied in), with the manager
 * as DOCKER_HOST and its own node's engine for what is done where the tasks run. Redis runs here, on the
 * network's gateway. The manager's engine answers on that network over TLS only, verifying its clients
 * (certificates made for the test by openssl; DOCKER_CERT_PATH). Then the same swarm runs spin-docker as
 * docker-stack.yml deploys it. No traffic leaves that network and loopback.
 */
const run = promisify(execFile);
const NETWORK = `sd-swarm-${randomBytes(3).toString('hex')}`;
const NODES = ['sd-swarm-1', 'sd-swarm-2', 'sd-swarm-3'] as const;
/** The host image with Docker installed, made once from the fresh host image (the install takes minutes). */
const DOCKER_HOST_IMAGE = 'spin-docker-test/debian12-docker-host:latest';
const LOCAL_CAS = '/usr/local/share/ca-certificates';
const APP = '/opt/spin-docker';
const PASSWORD = 'swarm-test-password';
const INSTANCE = `swarm-${randomBytes(3).toString('hex')}`;
const TIMERS = { SD_ACTIVITY_SAMPLE_INTERVAL: '1', SD_INITIAL_TIMEOUT_INTERVAL: '15', SD_TIMEOUT_INTERVAL: '4', SD_RECONCILE_INTERVAL: '3' };

/** Where the node workers keep the client certificate for the manager's engine. */
const NODE_CERTS = '/etc/spin-docker/docker-certs';
const APP_IMAGE = 'spin-docker-test/app:swarm';

const address: Record<string, string> = {};
let certsDir = '';
let certs: EngineCertificates;
const managerEngine = () => `tcp://${address[NODES[0]]}:2376`;
let gateway = '';
let redis: ChildProcess | undefined;
let redisUrl = '';
let h: Harness;

const inHost = async (host: string, command: string, timeoutMs = 300_000) =>
  (await run('docker', ['exec', host, 'bash', '-c', command], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })).stdout.trim();

/** The fresh host image with docker.io installed from this machine's Debian mirror (as the host's apt sources say). */
async function makeDockerHostImage(): Promise<void> {
  if (
    await run('docker', ['image', 'inspect', DOCKER_HOST_IMAGE]).then(
      () => true,
      () => false,
    )
  )
    return;
  await makeHostImage();
  const builder = 'sd-swarm-image-builder';
  await removeHost(builder, `${builder}-docker`);
  await bootHost(builder, `${builder}-docker`, { image: HOST_IMAGE });
  await trustLocalCas(builder);
  await inHost(
    builder,
    'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io curl >/dev/null',
    900_000,
  );
  // One engine identity per host: what the engine and systemd make at first start is made again on each node.
  await inHost(builder, 'systemctl stop docker docker.socket containerd; rm -f /etc/docker/key.json; : >/etc/machine-id; apt-get clean');
  await run('docker', ['commit', '--change', 'CMD ["/sbin/init"]', builder, DOCKER_HOST_IMAGE]);
  await removeHost(builder, `${builder}-docker`);
}

/** This machine reaches its mirrors through a TLS-inspecting proxy: a host trusts what we trust, as fresh-machine's does. */
async function trustLocalCas(host: string): Promise<void> {
  if (!existsSync(LOCAL_CAS)) return;
  for (const file of readdirSync(LOCAL_CAS).filter((f) => f.endsWith('.crt')))
    await run('docker', ['cp', join(LOCAL_CAS, file), `${host}:${LOCAL_CAS}/${file}`]);
  await inHost(host, 'update-ca-certificates >/dev/null');
}

/** Starts this repository's worker on a node, as a node's worker runs: the manager's engine, its own, Redis here. */
async function startNodeWorker(node: string): Promise<void> {
  const env = {
    SD_ENGINE: 'swarm',
    DOCKER_HOST: managerEngine(),
    DOCKER_CERT_PATH: NODE_CERTS,
    SD_NODE_DOCKER_HOST: 'unix:///var/run/docker.sock',
    REDIS_URL: redisUrl,
    SD_INSTANCE: INSTANCE,
    SD_PASSWORD: PASSWORD,
    SD_ENVIRONMENT: 'test',
    SD_NETWORK: 'sd-swarm',
    SD_PORT_RANGE: '21000-21099',
    SD_STOP_TIMEOUT: '3',
    SD_WORKER_METRICS_PORT: '0',
    ...TIMERS,
  };
  const assignments = Object.entries(env)
    .map(([key, value]) => `${key}='${value}'`)
    .join(' ');
  await inHost(node, `cd ${APP} && { ${assignments} nohup node dist/worker/main.js >/var/log/sd-worker.log 2>&1 & }`);
  await waitUntil(
    `the worker on ${node}`,
    async () => ((await inHost(node, 'cat /var/log/sd-worker.log')).includes('worker started') ? true : undefined),
    60_000,
  );
}

beforeAll(async () => {
  await makeDockerHostImage();
  await run('docker', ['network', 'create', NETWORK]);
  gateway = (await run('docker', ['network', 'inspect', NETWORK, '--format', '{{(index .IPAM.Config 0).Gateway}}'])).stdout.trim();
  for (const node of NODES) {
    address[node] = await bootHost(node, `${node}-docker`, { network: NETWORK, hostname: node, image: DOCKER_HOST_IMAGE });
  }
  // The manager's engine answers on the test's network too (for the API here and the nodes' workers), over
  // TLS, to clients with a certificate of the test's authority only.
  certsDir = mkdtempSync(join(tmpdir(), 'sd-swarm-tls-'));
  certs = makeEngineCertificates(certsDir, [address[NODES[0]] as string]);
  await inHost(NODES[0], 'mkdir -p /etc/docker/tls');
  for (const file of ['ca.pem', 'cert.pem', 'key.pem']) await run('docker', ['cp', join(certs.engine, file), `${NODES[0]}:/etc/docker/tls/${file}`]);
  const tls = '--tlsverify --tlscacert /etc/docker/tls/ca.pem --tlscert /etc/docker/tls/cert.pem --tlskey /etc/docker/tls/key.pem';
  await inHost(NODES[0], `echo 'DOCKER_OPTS="-H tcp://${address[NODES[0]]}:2376 ${tls}"' >/etc/default/docker`);
  for (const node of NODES) {
    await inHost(node, `mkdir -p ${NODE_CERTS}`);
    for (const file of ['ca.pem', 'cert.pem', 'key.pem']) await run('docker', ['cp', join(certs.client, file), `${node}:${NODE_CERTS}/${file}`]);
  }
  for (const node of NODES) await inHost(node, 'systemctl restart docker && docker info >/dev/null');
  await inHost(NODES[0], `docker swarm init --advertise-addr ${address[NODES[0]]} >/dev/null`);
  const token = await inHost(NODES[0], 'docker swarm join-token -q worker');
  for (const node of NODES.slice(1)) await inHost(node, `docker swarm join --token ${token} ${address[NODES[0]]}:2377 >/dev/null`);

  // The images every node may run (no registry here): loaded into each node's engine.
  for (const node of NODES) {
    execFileSync('bash', ['-c', `docker save ${TEST_IMAGES.demo} ${TEST_IMAGES.httpd} | docker exec -i ${node} docker load -q`], {
      maxBuffer: 64 * 1024 * 1024,
    });
  }
  // Node.js and the build (dist, its packages) on every node, for its worker.
  for (const node of NODES) {
    await run('docker', ['cp', process.execPath, `${node}:/usr/local/bin/node`]);
    await inHost(node, `mkdir -p ${APP}`);
    execFileSync('bash', ['-c', `tar -cf - dist node_modules package.json | docker exec -i ${node} tar -C ${APP} -xf -`], { maxBuffer: 64 * 1024 * 1024 });
  }
  // Redis here, on the test network's gateway, with a password.
  const port = await freePort();
  redis = spawn('redis-server', ['--port', String(port), '--bind', gateway, '--requirepass', PASSWORD, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  redisUrl = `redis://:${PASSWORD}@${gateway}:${port}`;
  await waitUntil(
    'redis',
    async () =>
      (await run('redis-cli', ['-h', gateway, '-p', String(port), '-a', PASSWORD, '--no-auth-warning', 'ping']).catch(() => ({ stdout: '' }))).stdout.includes(
        'PONG',
      ) || undefined,
    10_000,
  );

  for (const node of NODES) await startNodeWorker(node);
  h = await startHarness(
    {
      SD_ENGINE: 'swarm',
      DOCKER_HOST: managerEngine(),
      DOCKER_CERT_PATH: certs.client,
      REDIS_URL: redisUrl,
      SD_INSTANCE: INSTANCE,
      SD_PASSWORD: PASSWORD,
      SD_NETWORK: 'sd-swarm',
      SD_PORT_RANGE: '21000-21099',
      ...TIMERS,
    },
    { worker: false },
  );
}, 1_800_000);

afterAll(async () => {
  for (const node of NODES) {
    const log = await inHost(node, 'tail -n 30 /var/log/sd-worker.log').catch(() => '');
    if (log !== '') process.stdout.write(`--- worker on ${node}\n${log}\n`);
  }
  await h?.stop().catch(() => undefined);
  redis?.kill('SIGTERM');
  for (const node of NODES) await removeHost(node, `${node}-docker`);
  await run('docker', ['network', 'rm', NETWORK]).catch(() => undefined);
  if (certsDir !== '') rmSync(certsDir, { recursive: true, force: true });
}, 300_000);

interface View {
  container_id: string;
  status: string;
  node: string | null;
  ports: Record<string, string>;
  app_port: string;
  connections: string;
  stop_reason: string | null;
  asleep: boolean;
}

async function create(image: string): Promise<View> {
  const res = await h.http
    .post('/v1/containers')
    .auth(...h.auth)
    .send({ image });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as View;
}
const get = async (id: string) => (await h.http.get(`/v1/containers/${id}`).auth(...h.auth)).body as View;
const patch = (id: string, status: string) =>
  h.http
    .patch(`/v1/containers/${id}`)
    .auth(...h.auth)
    .send({ status });
/** An HTTP answer's status line from a node's published port, or '' when nothing answers. */
async function statusLine(node: string, port: string): Promise<string> {
  const out = await run('curl', ['-s', '-m', '10', '-o', '/dev/null', '-w', '%{http_code}', `http://${address[node]}:${port}/`]).catch(
    (e: { stdout?: string }) => ({
      stdout: e.stdout ?? '',
    }),
  );
  return out.stdout;
}
function holdOpen(host: string, port: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A container the swarm put on one of the worker nodes (the manager's own are not what these tests are about). */
async function createOnAWorkerNode(): Promise<View> {
  for (let i = 0; i < 10; i += 1) {
    const c = await create(TEST_IMAGES.httpd);
    if (c.node !== NODES[0]) return c;
  }
  throw new Error('the swarm put ten containers in a row on the manager');
}

describe('SD_ENGINE=swarm on three nodes', () => {
  let spread: View[] = [];

  it('places containers on several nodes, each answering on its published port of its node', async () => {
    spread = [];
    for (let i = 0; i < 4; i += 1) spread.push(await create(TEST_IMAGES.httpd));
    const nodes = new Set(spread.map((c) => c.node));
    expect(nodes.size).toBeGreaterThanOrEqual(2);
    for (const c of spread) {
      expect(NODES).toContain(c.node);
      // busybox httpd serving /bin: its own 404, from the node the swarm put it on.
      await expect.poll(() => statusLine(c.node as string, c.app_port), { timeout: 20_000 }).toBe('404');
    }
  });

  it("keeps an idle container on a worker node up while a client holds a connection (that node's worker observes it), and stops it once the client leaves", async () => {
    const onWorker = await createOnAWorkerNode();
    const socket = await holdOpen(address[onWorker.node as string] as string, onWorker.app_port);
    try {
      await expect.poll(async () => (await get(onWorker.container_id)).connections, { timeout: 20_000, interval: 250 }).toBe('1');
      await keepsPassing(12_000, async () => expect((await get(onWorker.container_id)).status).toBe('running'));
    } finally {
      socket.destroy();
    }
    await expect.poll(async () => (await get(onWorker.container_id)).status, { timeout: 40_000, interval: 500 }).toBe('stopped');
    expect((await get(onWorker.container_id)).stop_reason).toMatch(/^idle/);
  });

  it('stops and starts a container on the same node and ports, and deletes it', async () => {
    const c = await create(TEST_IMAGES.httpd);
    expect((await patch(c.container_id, 'stopped')).status).toBe(200);
    await expect.poll(async () => (await get(c.container_id)).status, { timeout: 30_000, interval: 250 }).toBe('stopped');
    const started = await patch(c.container_id, 'running');
    expect(started.body).toMatchObject({ status: 'running', node: c.node, ports: c.ports });
    await expect.poll(() => statusLine(c.node as string, c.app_port), { timeout: 20_000 }).toBe('404');
    expect((await h.http.delete(`/v1/containers/${c.container_id}`).auth(...h.auth)).status).toBe(204);
    await expect.poll(async () => (await h.http.get(`/v1/containers/${c.container_id}`).auth(...h.auth)).status, { timeout: 30_000 }).toBe(404);
    expect(await inHost(NODES[0], `docker service ls -q --filter id=${c.container_id}`)).toBe('');
  });

  it('wakes a container kept on a worker node when a client connects to its port there', async () => {
    const c = await createOnAWorkerNode();
    expect((await patch(c.container_id, 'stopped')).status).toBe(200);
    await expect.poll(async () => (await get(c.container_id)).asleep, { timeout: 30_000, interval: 250 }).toBe(true);
    // Its node's worker listens on its port once it has seen the stop.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await expect.poll(() => statusLine(c.node as string, c.app_port), { timeout: 60_000, interval: 1_000 }).toBe('404');
    expect(await get(c.container_id)).toMatchObject({ status: 'running', node: c.node });
  });
  it("refuses the manager's engine to a client without the test's certificate", async () => {
    await expect(createDockerClient(managerEngine()).ping()).rejects.toThrow();
    expect(String(await createDockerClient(managerEngine(), certs.client).ping())).toBe('OK');
  });
});

describe('docker-stack.yml on the same swarm', () => {
  const STACK = 'sd';
  const stackInstance = `stack-${randomBytes(3).toString('hex')}`;
  const stackApi = async (method: string, path: string, body?: Record<string, string>) => {
    const res = await fetch(`http://${address[NODES[0]]}:8080${path}`, {
      method,
      headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as View & Record<string, string> };
  };

  beforeAll(async () => {
    // No registry: the stack's images are built here and loaded into every node's engine.
    await buildAppImage(APP_IMAGE);
    for (const node of NODES) {
      execFileSync('bash', ['-c', `docker save ${APP_IMAGE} ${REDIS_IMAGE} | docker exec -i ${node} docker load -q`], { maxBuffer: 64 * 1024 * 1024 });
    }
    await inHost(NODES[0], 'mkdir -p /opt/stack');
    await run('docker', ['cp', 'docker-stack.yml', `${NODES[0]}:/opt/stack/docker-stack.yml`]);
    const env = {
      SD_PASSWORD: PASSWORD,
      SD_REDIS_PASSWORD: 'stack-redis-password',
      DOCKER_GID: await inHost(NODES[0], 'stat -c %g /var/run/docker.sock'),
      SD_MANAGER_HOSTNAME: NODES[0],
      SD_MANAGER_ADDRESS: address[NODES[0]] as string,
      // The client certificate the test made, on the manager already (its own node worker's).
      SD_DOCKER_CERT_PATH: NODE_CERTS,
      SD_IMAGE: APP_IMAGE,
      REDIS_IMAGE,
      SD_INSTANCE: stackInstance,
      SD_NETWORK: 'sd-stack',
      SD_PORT_RANGE: '21100-21199',
      SD_STOP_TIMEOUT: '3',
      ...TIMERS,
    };
    const assignments = Object.entries(env)
      .map(([key, value]) => `${key}='${value}'`)
      .join(' ');
    await inHost(NODES[0], `cd /opt/stack && env ${assignments} docker stack deploy -c docker-stack.yml ${STACK}`);
    await waitUntil(
      "the stack's API",
      async () => ((await stackApi('GET', '/healthz').catch(() => ({ status: 0, body: null }))).status === 200 ? true : undefined),
      300_000,
    );
  }, 1_800_000);

  afterAll(async () => {
    const ps = await inHost(NODES[0], `docker stack ps ${STACK} --no-trunc --format '{{.Name}} {{.Node}} {{.CurrentState}} {{.Error}}'`).catch(() => '');
    process.stdout.write(`--- docker stack ps ${STACK}\n${ps}\n`);
    const logs = await inHost(NODES[0], `docker service logs --tail 20 ${STACK}_worker 2>&1; docker service logs --tail 20 ${STACK}_api 2>&1`).catch(() => '');
    process.stdout.write(`--- the stack's logs\n${logs}\n`);
  }, 120_000);

  it('runs Redis and the API on the manager and a worker on every node, each healthy', async () => {
    await expect
      .poll(
        async () => await inHost(NODES[0], `docker service ls --filter label=com.docker.stack.namespace=${STACK} --format '{{.Name}} {{.Replicas}}' | sort`),
        {
          timeout: 180_000,
          interval: 2_000,
        },
      )
      .toBe([`${STACK}_api 1/1`, `${STACK}_redis 1/1`, `${STACK}_worker 3/3`].join('\n'));
    const health = await stackApi('GET', '/healthz');
    expect(health.body).toMatchObject({ status: 'ok', redis: 'ok', docker: 'ok', worker: 'ok' });
    // The worker task on every node healthy, by its own health check.
    for (const node of NODES) {
      await expect
        .poll(async () => await inHost(node, `docker ps --filter label=com.docker.swarm.service.name=${STACK}_worker --format '{{.Status}}'`), {
          timeout: 120_000,
          interval: 2_000,
        })
        .toMatch(/\(healthy\)/);
    }
  });

  it("observes a container on a worker node by that node's stack worker, and wakes it there from its sleep", async () => {
    let c: View | undefined;
    for (let i = 0; i < 10 && (c === undefined || c.node === NODES[0]); i += 1) {
      const res = await stackApi('POST', '/v1/containers', { image: TEST_IMAGES.httpd });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      c = res.body;
    }
    const onWorker = c as View;
    expect(onWorker.node).not.toBe(NODES[0]);
    await expect.poll(() => statusLine(onWorker.node as string, onWorker.app_port), { timeout: 20_000 }).toBe('404');
    const socket = await holdOpen(address[onWorker.node as string] as string, onWorker.app_port);
    try {
      // Read from the node's /proc by the worker container there (SD_PROC_ROOT=/host/proc).
      await expect
        .poll(async () => (await stackApi('GET', `/v1/containers/${onWorker.container_id}`)).body.connections, { timeout: 30_000, interval: 500 })
        .toBe('1');
    } finally {
      socket.destroy();
    }
    expect((await stackApi('PATCH', `/v1/containers/${onWorker.container_id}`, { status: 'stopped' })).status).toBe(200);
    await expect
      .poll(async () => (await stackApi('GET', `/v1/containers/${onWorker.container_id}`)).body.asleep, { timeout: 30_000, interval: 250 })
      .toBe(true);
    // The worker in the node's network listens on the port; a client's connection wakes the container.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await expect.poll(() => statusLine(onWorker.node as string, onWorker.app_port), { timeout: 60_000, interval: 1_000 }).toBe('404');
    expect((await stackApi('GET', `/v1/containers/${onWorker.container_id}`)).body).toMatchObject({ status: 'running', node: onWorker.node });
  });
});

describe('a node that goes down', () => {
  it('follows a worker node that goes down: its running containers are recorded stopped, saying why, within seconds', async () => {
    const victim = await createOnAWorkerNode();
    const node = victim.node as string;
    await run('docker', ['stop', '-t', '1', node]);
    const started = Date.now();
    await expect.poll(async () => (await get(victim.container_id)).status, { timeout: 90_000, interval: 500 }).toBe('stopped');
    process.stdout.write(`record followed node ${node} down in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    expect((await get(victim.container_id)).stop_reason).toBe(`node ${node} is down`);
  });
});
