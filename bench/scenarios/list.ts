import { INSTANCE_LABEL } from '../../src/adapters/docker/docker.runtime.js';
import { DEMO_IMAGE, insertRecords, removeLabelled, removeRecords, syntheticRecord, type BenchEnv } from '../lib/env.js';
import { interleavedLoad, type LoadFigures } from '../lib/load.js';
import type { Row, ScenarioReport } from '../lib/report.js';

/** 3. GET /v1/containers at 100, 1,000 and 10,000 stored records vs the engine's own container listing. */
export async function listScenario(env: BenchEnv): Promise<ScenarioReport> {
  const sizes = env.quick ? [100, 1000] : [100, 1000, 10_000];
  const rounds = env.quick ? 1 : 3;
  const duration = env.quick ? 1 : 3;
  // The engine lists real containers: created (not started) ones are enough for its listing.
  for (let i = 0; i < (env.quick ? 5 : 20); i += 1) {
    await env.docker.createContainer({ Image: DEMO_IMAGE, Labels: { [INSTANCE_LABEL]: env.rawInstance }, HostConfig: { PublishAllPorts: true } });
  }
  const engineContainers = (await env.docker.listContainers({ all: true })).length;
  const ids: string[] = [];
  const results: { size: number; ours: LoadFigures; raw: LoadFigures }[] = [];
  for (const size of sizes) {
    const records = Array.from({ length: size - ids.length }, (_, i) => syntheticRecord(ids.length + i, { status: 'stopped', ports: {}, ip: '' }));
    await insertRecords(env, records);
    ids.push(...records.map((r) => r.id));
    const { ours, raw } = await interleavedLoad(
      rounds,
      { url: `${env.url}/v1/containers`, headers: { authorization: env.authorization }, duration },
      { url: 'http://localhost/containers/json?all=1', socketPath: '/var/run/docker.sock', duration },
    );
    results.push({ size, ours, raw });
  }
  await removeRecords(env, ids);
  await removeLabelled(env.docker, env.rawInstance);

  const base = results[0] as (typeof results)[number];
  const rows: Row[] = results.flatMap(({ size, ours, raw }) => [
    [`spin-docker, ${size} records`, ours.p50, ours.p99, ours.rps, ours.bytes, ours.p50 / base.ours.p50, ours.bytes / base.ours.bytes],
    [`raw engine, ${engineContainers} containers`, raw.p50, raw.p99, raw.rps, raw.bytes, '-', '-'],
  ]);
  const at1000 = results.find((r) => r.size === 1000);
  const figures: Record<string, number> = { engineContainers };
  for (const { size, ours, raw } of results) {
    Object.assign(figures, {
      [`p50Ms_${size}`]: ours.p50,
      [`p99Ms_${size}`]: ours.p99,
      [`rps_${size}`]: ours.rps,
      [`bytes_${size}`]: ours.bytes,
      [`errors_${size}`]: ours.errors + ours.non2xx,
      [`rawP50Ms_${size}`]: raw.p50,
      [`rawRps_${size}`]: raw.rps,
    });
  }
  const largest = results[results.length - 1] as (typeof results)[number];
  const latencyGrowth = Math.max(largest.ours.p50, 1) / Math.max(base.ours.p50, 1);
  const sizeGrowth = largest.ours.bytes / base.ours.bytes;
  return {
    name: '3. List',
    note:
      `GET /v1/containers with records written through the server's own store (synthetic: no container behind them), ` +
      `autocannon 10 connections × ${duration} s, ${rounds} round(s) interleaved with the engine's GET /containers/json?all=1 ` +
      `(which lists the ${engineContainers} containers this engine has). Latency in ms (autocannon's resolution is 1 ms).`,
    header: ['', 'p50 ms', 'p99 ms', 'req/s', 'bytes', 'p50 × (vs 100)', 'size × (vs 100)'],
    rows,
    figures,
    aims: at1000
      ? [
          { aim: 'median under 15 ms at 1,000 records', met: at1000.ours.p50 < 15, detail: `${at1000.ours.p50} ms` },
          { aim: 'at least 500 requests/s at 1,000 records', met: at1000.ours.rps >= 500, detail: `${at1000.ours.rps} req/s` },
          {
            aim: `latency grows no faster than the response (100 → ${largest.size})`,
            met: latencyGrowth <= sizeGrowth * 1.1,
            detail: `latency × ${latencyGrowth.toFixed(1)}, size × ${sizeGrowth.toFixed(1)}`,
          },
        ]
      : [],
  };
}
