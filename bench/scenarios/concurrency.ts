import { apiCreate, drained, rawRun, removeLabelled, type BenchEnv } from '../lib/env.js';
import type { ScenarioReport } from '../lib/report.js';
import { median, since } from '../lib/stats.js';

/** 6. 20 concurrent creates through the API vs 20 concurrent raw creates, in alternating rounds. */
export async function concurrencyScenario(env: BenchEnv): Promise<ScenarioReport> {
  const width = env.quick ? 5 : 20;
  const rounds = env.quick ? 1 : 3;
  const ours: number[] = [];
  const raw: number[] = [];
  let failures = 0;
  for (let round = 0; round < rounds; round += 1) {
    const pair = round % 2 === 0 ? [measureOurs, measureRaw] : [measureRaw, measureOurs];
    for (const step of pair) await step();
  }
  async function measureOurs() {
    const start = performance.now();
    const results = await Promise.allSettled(Array.from({ length: width }, () => apiCreate(env)));
    ours.push(since(start));
    failures += results.filter((r) => r.status === 'rejected').length;
    await removeLabelled(env.docker, env.instance);
    await drained(env);
  }
  async function measureRaw() {
    const start = performance.now();
    await Promise.all(Array.from({ length: width }, () => rawRun(env)));
    raw.push(since(start));
    await removeLabelled(env.docker, env.rawInstance);
  }

  const ratio = median(ours) / median(raw);
  return {
    name: '6. Concurrency',
    note: `${width} creates at once through the API vs ${width} raw create + start + inspect at once, ${rounds} round(s), alternating; wall time.`,
    header: ['', 'median wall ms', 'per container ms', 'ratio'],
    rows: [
      [`spin-docker, ${width} at once`, median(ours), median(ours) / width, ratio],
      [`raw engine, ${width} at once`, median(raw), median(raw) / width, 1],
    ],
    figures: { width, oursWallMs: median(ours), rawWallMs: median(raw), ratio, failures },
    aims: [{ aim: `all ${width} concurrent creates succeed`, met: failures === 0, detail: `${failures} failed` }],
  };
}
