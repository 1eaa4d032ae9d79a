import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { INSTANCE_LABEL } from '../../src/adapters/docker/docker.runtime.js';
import { BindProbe } from '../../src/adapters/net/host-ports.js';
import { apiCreate, cpuMs, DEMO_IMAGE, drained, insertRecords, removeLabelled, removeRecords, rssMiB, syntheticRecord, type BenchEnv } from '../lib/env.js';
import { interleavedLoad } from '../lib/load.js';
import type { Aim, Row, ScenarioReport } from '../lib/report.js';
import { median, since } from '../lib/stats.js';

const run = promisify(execFile);
const POSTGRES_IMAGE = 'spin-docker/postgres';
const probe = new BindProbe('0.0.0.0');
const listened = async (port: number) => !(await probe.isFree(port));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check());) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface View {
  container_id: string;
  status: string;
  asleep: boolean;
  app_port: string;
  ports: Record<string, string>;
}

async function api<T>(env: BenchEnv, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${env.url}${path}`, {
    method,
    headers: { authorization: env.authorization, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await res.json()) as T;
}

/** Stops a container through the API and waits until it sleeps with its port listened on by the worker. */
async function putToSleep(env: BenchEnv, id: string, port: number): Promise<void> {
  await api(env, 'PATCH', `/v1/containers/${id}`, { status: 'stopped' });
  await until('asleep', async () => (await api<View>(env, 'GET', `/v1/containers/${id}`)).asleep);
  await until('its port listened on', () => listened(port));
}

/** connect() → the first byte of the answer to an HTTP request, in ms; retried (for the raw path) until one comes. */
function firstByte(port: number, request = 'GET / HTTP/1.0\r\n\r\n'): Promise<number | null> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(60_000, () => socket.destroy());
    socket.once('data', () => {
      resolve(since(started));
      socket.destroy();
    });
    socket.once('error', () => resolve(null));
    socket.once('close', () => resolve(null));
    socket.write(request);
  });
}

async function firstByteRetrying(port: number, started: number): Promise<number> {
  for (;;) {
    if ((await firstByte(port)) !== null) return since(started);
    await sleep(5);
  }
}

/** Reads an HTTP answer to the end; its bytes and the time from its first byte to its last (the wake is not in it). */
function download(port: number, path: string, onFirstByte: () => void = () => undefined): Promise<{ bytes: number; ms: number }> {
  let started = 0;
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const socket = connect(port, '127.0.0.1');
    socket.on('data', (chunk: Buffer) => {
      if (bytes === 0) {
        started = performance.now();
        onFirstByte();
      }
      bytes += chunk.length;
    });
    socket.once('error', reject);
    socket.once('close', () => resolve({ bytes, ms: since(started) }));
    socket.write(`GET ${path} HTTP/1.0\r\n\r\n`);
  });
}

/** A raw container of the same image, published on `port`, started once and stopped: what `docker start` is timed on. */
async function rawStopped(env: BenchEnv, image: string, ports: Record<string, string>, envVars: string[] = []): Promise<string> {
  const container = await env.docker.createContainer({
    Image: image,
    Env: envVars,
    Labels: { 'io.spin-docker.instance': env.rawInstance },
    HostConfig: {
      Init: true,
      PortBindings: Object.fromEntries(Object.entries(ports).map(([inside, outside]) => [inside, [{ HostIp: '0.0.0.0', HostPort: outside }]])),
    },
  });
  await container.start();
  return container.id;
}

function pairs(rounds: number) {
  return Array.from({ length: rounds }, (_, i) => i);
}

/**
 * 9. Sleeping containers: the first connection to a sleeping container against a raw `docker start` of an
 * identical stopped container and the same request; an awake container's port against a raw published port;
 * a connection held through the wake; a thousand sleepers; a storm of connections at one.
 */
export async function wakeScenario(env: BenchEnv): Promise<ScenarioReport> {
  const rounds = env.quick ? 2 : 5;
  const rows: Row[] = [];
  const aims: Aim[] = [];
  const figures: Record<string, number> = {};

  // 1. Cold start through the port: busybox httpd (the demo image).
  const id = await apiCreate(env);
  const ours = await api<View>(env, 'GET', `/v1/containers/${id}`);
  const port = Number(ours.app_port);
  const rawPort = port + 5000;
  const raw = await rawStopped(env, DEMO_IMAGE, { '80/tcp': String(rawPort) });
  await until('the raw container to answer', async () => (await firstByte(rawPort)) !== null);
  const cold: number[] = [];
  const rawCold: number[] = [];
  for (const _ of pairs(rounds)) {
    await putToSleep(env, id, port);
    cold.push((await firstByte(port)) ?? Number.NaN);
    await env.docker.getContainer(raw).stop({ t: 1 });
    const started = performance.now();
    await env.docker.getContainer(raw).start();
    rawCold.push(await firstByteRetrying(rawPort, started));
  }
  const [coldMs, rawColdMs] = [median(cold), median(rawCold)];
  rows.push(['cold start, httpd: connect → first byte', coldMs, rawColdMs, coldMs / rawColdMs]);
  aims.push({
    aim: 'httpd cold start ≤ 1.1 × raw + 50 ms',
    met: coldMs <= 1.1 * rawColdMs + 50,
    detail: `${coldMs.toFixed(0)} ms vs ${rawColdMs.toFixed(0)} ms raw`,
  });
  Object.assign(figures, { coldHttpdMs: coldMs, rawColdHttpdMs: rawColdMs });

  // …and the kit's PostgreSQL with `psql -c 'select 1'`, when the kit is built.
  const hasPostgres = (await env.docker.listImages({ filters: { reference: [POSTGRES_IMAGE] } })).length > 0;
  if (hasPostgres) {
    const pg = await api<View>(env, 'POST', '/v1/containers', { image: POSTGRES_IMAGE, env: { POSTGRES_PASSWORD: 'bench' } });
    const pgPort = Number(pg.app_port);
    const rawPgPort = pgPort + 5000;
    const rawPg = await rawStopped(env, POSTGRES_IMAGE, { '5432/tcp': String(rawPgPort) }, ['POSTGRES_PASSWORD=bench']);
    const psql = (target: number, connectTimeout = '60') =>
      run('psql', ['-h', '127.0.0.1', '-p', String(target), '-U', 'postgres', '-XAt', '-c', 'select 1'], {
        env: { ...process.env, PGPASSWORD: 'bench', PGCONNECT_TIMEOUT: connectTimeout },
      }).then(
        () => true,
        () => false,
      );
    await until('postgres', () => psql(pgPort, '2'), 120_000);
    await until('raw postgres', () => psql(rawPgPort, '2'), 120_000);
    const pgCold: number[] = [];
    const rawPgCold: number[] = [];
    for (const _ of pairs(rounds)) {
      await putToSleep(env, pg.container_id, pgPort);
      let started = performance.now();
      if (!(await psql(pgPort))) throw new Error('psql through the wake failed');
      pgCold.push(since(started));
      await env.docker.getContainer(rawPg).stop({ t: 5 });
      started = performance.now();
      await env.docker.getContainer(rawPg).start();
      while (!(await psql(rawPgPort, '2'))) await sleep(20);
      rawPgCold.push(since(started));
    }
    const [pgMs, rawPgMs] = [median(pgCold), median(rawPgCold)];
    rows.push(["cold start, postgres: psql -c 'select 1'", pgMs, rawPgMs, pgMs / rawPgMs]);
    aims.push({
      aim: 'postgres cold start ≤ 1.1 × raw + 50 ms',
      met: pgMs <= 1.1 * rawPgMs + 50,
      detail: `${pgMs.toFixed(0)} ms vs ${rawPgMs.toFixed(0)} ms raw`,
    });
    Object.assign(figures, { coldPostgresMs: pgMs, rawColdPostgresMs: rawPgMs });
  }

  // 2. Awake: the woken container's port is Docker's published port, as the raw container's is.
  await putToSleep(env, id, port);
  await firstByte(port);
  const awake = await interleavedLoad(
    env.quick ? 1 : 3,
    { url: `http://127.0.0.1:${port}/`, connections: 10, duration: env.quick ? 1 : 4 },
    { url: `http://127.0.0.1:${rawPort}/`, connections: 10, duration: env.quick ? 1 : 4 },
  );
  rows.push(["awake: req/s through its port (raw: the raw container's)", awake.ours.rps, awake.raw.rps, awake.ours.rps / awake.raw.rps]);
  rows.push(['awake: p50 ms', awake.ours.p50, awake.raw.p50, '-']);
  aims.push({
    aim: 'awake path at 1.00 × the raw path (it is the same path)',
    met: awake.ours.rps >= 0.9 * awake.raw.rps,
    detail: `${(awake.ours.rps / awake.raw.rps).toFixed(2)} ×`,
  });
  Object.assign(figures, { awakeRps: awake.ours.rps, rawAwakeRps: awake.raw.rps, awakeP50: awake.ours.p50, rawAwakeP50: awake.raw.p50 });

  // 3. A connection held through the wake, joined by the worker, against a direct one: a file of 64 MiB.
  const mib = env.quick ? 16 : 64;
  for (const target of [id, raw]) {
    const exec = await env.docker.getContainer(target).exec({ Cmd: ['sh', '-c', `dd if=/dev/zero of=/var/www/big bs=1M count=${mib} 2>/dev/null`] });
    await exec.start({ Detach: false });
    await until('the file', async () => (await exec.inspect()).ExitCode === 0, 30_000);
  }
  const held: number[] = [];
  const direct: number[] = [];
  const cpuPerGb: number[] = [];
  for (const _ of pairs(env.quick ? 1 : 3)) {
    await putToSleep(env, id, port);
    // The file is in the container's own layer: it survives the stop.
    let cpuBefore = 0;
    const through = await download(port, '/big', () => (cpuBefore = cpuMs(env.workerPid)));
    const cpu = cpuMs(env.workerPid) - cpuBefore;
    const straight = await download(port, '/big');
    held.push(through.bytes / 1e6 / (through.ms / 1000));
    direct.push(straight.bytes / 1e6 / (straight.ms / 1000));
    cpuPerGb.push(cpu / (through.bytes / 1e9));
  }
  const [heldMBs, directMBs] = [median(held), median(direct)];
  rows.push([`held through the wake: MB/s (${mib} MiB, from its first byte)`, heldMBs, directMBs, heldMBs / directMBs]);
  rows.push(['held: worker CPU ms per GB', median(cpuPerGb), '-', '-']);
  aims.push({ aim: 'a held connection ≥ 0.8 × the direct one', met: heldMBs >= 0.8 * directMBs, detail: `${(heldMBs / directMBs).toFixed(2)} ×` });
  Object.assign(figures, { heldMBs, directMBs, heldCpuMsPerGb: median(cpuPerGb) });

  // 5. Storm: 50 connections at once to a sleeping container.
  await putToSleep(env, id, port);
  const starts: string[] = [];
  const abort = new AbortController();
  const events = (await env.docker.getEvents({
    filters: { container: [id], event: ['start'] },
    abortSignal: abort.signal,
  } as never)) as unknown as NodeJS.ReadableStream;
  events.on('data', (chunk: Buffer) => starts.push(chunk.toString()));
  const storm = await Promise.all(Array.from({ length: 50 }, () => firstByte(port)));
  await sleep(200);
  abort.abort();
  const answered = storm.filter((ms) => ms !== null).length;
  rows.push(['storm: 50 at once: starts / answered / refused', starts.length, answered, 50 - answered]);
  aims.push({
    aim: 'storm: 1 start, 50 answered, 0 refused',
    met: starts.length === 1 && answered === 50,
    detail: `${starts.length} start(s), ${answered} answered`,
  });
  Object.assign(figures, { stormStarts: starts.length, stormAnswered: answered });
  await removeLabelled(env.docker, env.rawInstance);
  await removeLabelled(env.docker, env.instance);

  // 4. Many sleepers: records of stopped containers with wake on, two ports each. Each has a container, made and
  // never started (Docker is the truth: a record without one is forgotten by the worker's pass at its start,
  // which is what an earlier version of this scenario measured after the restart, as "never listened on again").
  const n = env.quick ? 100 : 1000;
  const fds = () => readdirSync(`/proc/${env.workerPid}/fd`).length;
  const [rssBefore, fdsBefore] = [rssMiB(env.workerPid), fds()];
  const made: string[] = [];
  for (let i = 0; i < n; i += 8) {
    const batch = Array.from({ length: Math.min(8, n - i) }, () =>
      env.docker.createContainer({ Image: DEMO_IMAGE, Labels: { [INSTANCE_LABEL]: env.instance } }).then((c) => c.id),
    );
    made.push(...(await Promise.all(batch)));
  }
  const sleepers = made.map((id, i) => ({
    ...syntheticRecord(i, { status: 'stopped', wakeOnConnect: true, ports: { '22/tcp': String(26000 + 2 * i), '80/tcp': String(26001 + 2 * i) }, ip: '' }),
    id,
  }));
  await insertRecords(env, sleepers);
  const sample = sleepers.filter((_, i) => i % 25 === 0 || i === n - 1).flatMap((r) => Object.values(r.ports).map(Number));
  const allListened = async () => (await Promise.all(sample.map(listened))).every(Boolean);
  await until('every sleeper listened on', allListened, 60_000).catch(async (error: unknown) => {
    // Say what was missing, so that a failure here can be understood from the output alone.
    const free = (await Promise.all(sample.map(async (port) => ((await listened(port)) ? [] : [port])))).flat();
    const kept = (await Promise.all(sleepers.map((r) => env.store.get(r.id)))).filter((r) => r !== null).length;
    throw new Error(`${(error as Error).message}: ${kept} of ${n} records kept, ports not listened on: ${free.slice(0, 10).join(', ')}`);
  });
  const [rss, fdCount] = [rssMiB(env.workerPid), fds()];
  const { spawnedAt } = await env.restartWorker();
  // A run that does not get there is reported as a missed aim, with the ports, rather than stopping every other
  // scenario's figures.
  const missing = await until('every sleeper listened on again', allListened, 60_000).then(
    () => [] as number[],
    async () => (await Promise.all(sample.map(async (port) => ((await listened(port)) ? [] : [port])))).flat(),
  );
  const relisten = since(spawnedAt);
  // The containers first: records removed before them would make the worker adopt them again.
  await removeLabelled(env.docker, env.instance);
  await removeRecords(
    env,
    sleepers.map((r) => r.id),
  );
  // The worker's reconciles of their thousand removals over before the next scenario measures.
  await drained(env);
  rows.push([`${n} sleepers: worker RSS MiB (before: ${rssBefore.toFixed(0)})`, rss, '-', '-']);
  rows.push([`${n} sleepers: worker file descriptors (before: ${fdsBefore})`, fdCount, '-', '-']);
  rows.push([`${n} sleepers: ms from a worker restart until all are listened on`, relisten, '-', '-']);
  aims.push({ aim: `${n} sleepers: the listening part under 50 MiB more`, met: rss - rssBefore < 50, detail: `${(rss - rssBefore).toFixed(0)} MiB more` });
  aims.push({
    aim: `${n} sleepers listened on again within 2 s of a restart`,
    met: relisten < 2000,
    detail:
      missing.length === 0 ? `${relisten.toFixed(0)} ms (process start included)` : `not within 60 s: ports not listened on ${missing.slice(0, 10).join(', ')}`,
  });
  Object.assign(figures, { sleepers: n, sleepersRssMiB: rss, sleepersRssBeforeMiB: rssBefore, sleepersFds: fdCount, relistenMs: relisten });

  return {
    name: '9. Sleeping containers',
    note:
      `The demo image (busybox httpd) through the API, woken by a connection, against an identical container started raw (docker start, then the same ` +
      `request retried until answered), ${rounds} rounds alternating${hasPostgres ? "; the kit's PostgreSQL the same way with psql" : " (the kit's PostgreSQL is not built: skipped)"}. ` +
      `Awake: autocannon on the woken container's port and on the raw container's. Held: one download that woke the container, joined by the worker, then the same download straight. ` +
      `Sleepers: records of stopped containers (made, never started), two ports each, listened on by the worker.`,
    header: ['', 'spin-docker', 'raw', 'ratio'],
    rows,
    figures,
    aims,
  };
}
