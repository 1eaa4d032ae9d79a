import { readFileSync } from 'node:fs';
import { createDockerRuntime } from '../../src/adapters/docker/docker.runtime.js';
import { ProcConnectionProbe } from '../../src/adapters/proc/connection.probe.js';
import { createIdlePass } from '../../src/domain/activity/idle-pass.js';
import { apiCreate, removeLabelled, type BenchEnv } from '../lib/env.js';
import type { ScenarioReport } from '../lib/report.js';
import { median, since } from '../lib/stats.js';

const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * 7. Observed activity: one sampling pass over real running containers (started through the API), as the
 * worker runs it (one store listing, then /proc/<pid>/cgroup, net/tcp and net/tcp6 of each container, parsed
 * and counted, and a write only where something changed), against the floor: reading the same files in a
 * plain loop. Both in this process, alternating, CPU from process.cpuUsage().
 */
export async function samplingScenario(env: BenchEnv): Promise<ScenarioReport> {
  const n = env.quick ? 10 : 100;
  const rounds = env.quick ? 5 : 20;
  const ids: string[] = [];
  for (let i = 0; i < n; i += 10) ids.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => apiCreate(env)))));

  const runtime = createDockerRuntime(env.docker, {
    instance: env.instance,
    timeoutMs: 30_000,
    limits: { pids: 0, memory: 0, cpus: 0, logMaxSize: '10m', logMaxFiles: 3 },
    publishAddress: '0.0.0.0',
    network: 'spin-docker',
  });
  const probe = new ProcConnectionProbe('/proc', 'unix:///var/run/docker.sock');
  // The worker's idle pass, sampling; no check is due (they are two hours away), so it only samples.
  const settings = {
    disableTimeouts: false,
    timeoutInterval: 1800,
    initialTimeoutInterval: 7200,
    activitySources: { observed: true, reported: true },
    quietConnection: null,
    deleteStoppedAfter: null,
    expiryWarning: 600,
  };
  const events = { publish: async () => undefined };
  const idlePass = createIdlePass({ store: env.store, runtime, probe, queue: env.queue, clock: { now: Date.now }, settings, events });
  const sampler = { pass: () => idlePass.once({ sample: true }) };
  // The same pass with quiet connections on: each container's net/dev is read too, and its bytes kept.
  const counting = createIdlePass({
    store: env.store,
    runtime,
    probe,
    queue: env.queue,
    clock: { now: Date.now },
    settings: { ...settings, quietConnection: 7200 },
    events,
  });
  const records = (await env.store.list()).filter((r) => ids.includes(r.id));
  const files = records.flatMap((r) => ['cgroup', 'net/tcp', 'net/tcp6'].map((f) => `/proc/${r.pid}/${f}`));

  // A first pass writes every container's count once; what is measured is the steady state after it.
  const first = await sampler.pass();
  await counting.once({ sample: true });
  const ours = { wall: [] as number[], cpu: [] as number[] };
  const withBytes = { wall: [] as number[], cpu: [] as number[] };
  const raw = { wall: [] as number[], cpu: [] as number[] };
  let bytes = 0;
  for (let round = 0; round < rounds; round += 1) {
    let [t, c] = [performance.now(), cpuNow()];
    const report = await sampler.pass();
    ours.wall.push(since(t));
    ours.cpu.push(cpuNow() - c);
    if (report.unknown > 0) throw new Error(`${report.unknown} of ${report.containers} containers could not be sampled`);
    [t, c] = [performance.now(), cpuNow()];
    await counting.once({ sample: true });
    withBytes.wall.push(since(t));
    withBytes.cpu.push(cpuNow() - c);
    [t, c] = [performance.now(), cpuNow()];
    for (const file of files) bytes += readFileSync(file).length;
    raw.wall.push(since(t));
    raw.cpu.push(cpuNow() - c);
  }
  await removeLabelled(env.docker, env.instance);

  const [wall, cpu, rawWall, rawCpu] = [median(ours.wall), median(ours.cpu), median(raw.wall), median(raw.cpu)];
  const [bytesWall, bytesCpu] = [median(withBytes.wall), median(withBytes.cpu)];
  const perContainerCpu = cpu / n;
  return {
    name: '7. Observed activity (sampling pass)',
    note:
      `${n} real running demo containers started through the API; ${rounds} passes, alternating with a plain loop of readFileSync over the ` +
      `same ${files.length} /proc files (${Math.round(bytes / rounds / 1024)} KiB a round). The first pass wrote ${first.written} records; later ones write only changes. ` +
      `Per-container CPU ${perContainerCpu.toFixed(3)} ms: a pass over 1,000 containers ≈ ${(perContainerCpu * 1000).toFixed(0)} ms of CPU, over 10,000 ≈ ${((perContainerCpu * 10_000) / 1000).toFixed(1)} s.`,
    header: ['', 'wall ms', 'CPU ms', 'per container CPU ms', 'wall × raw'],
    rows: [
      [`spin-docker pass over ${n}`, wall, cpu, perContainerCpu, wall / rawWall],
      [`the same with byte counters (quiet connections)`, bytesWall, bytesCpu, bytesCpu / n, bytesWall / rawWall],
      [`raw reads of the same files`, rawWall, rawCpu, rawCpu / n, 1],
    ],
    figures: {
      containers: n,
      passWallMs: wall,
      passCpuMs: cpu,
      bytesPassWallMs: bytesWall,
      bytesPassCpuMs: bytesCpu,
      rawWallMs: rawWall,
      rawCpuMs: rawCpu,
      cpuPerContainerMs: perContainerCpu,
      ratio: wall / rawWall,
      bytesRatio: bytesCpu / cpu,
    },
    aims: [
      { aim: `a pass over ${n} containers under ${n / 2} ms of CPU`, met: cpu < n / 2, detail: `${cpu.toFixed(1)} ms` },
      { aim: 'within 1.5 × the raw reads (wall)', met: wall <= 1.5 * rawWall, detail: `ratio ${(wall / rawWall).toFixed(2)}` },
      { aim: 'with byte counters at most 1.2 × the pass without (CPU)', met: bytesCpu <= 1.2 * cpu, detail: `${(bytesCpu / cpu).toFixed(2)} ×` },
    ],
  };
}
