import { apiCreate, drained, rawRun, removeLabelled, type BenchEnv } from '../lib/env.js';
import type { ScenarioReport } from '../lib/report.js';
import { median, quantile, since } from '../lib/stats.js';

/** 1. POST /v1/containers until the running container's object is back, vs create + start + inspect. */
export async function createScenario(env: BenchEnv): Promise<ScenarioReport> {
  const n = env.quick ? 3 : 20;
  const ours: number[] = [];
  const raw: number[] = [];
  // One of each first, unmeasured: the first create after start-up pays for cold caches on both sides.
  await apiCreate(env);
  await rawRun(env);
  for (let i = 0; i < n; i += 1) {
    // Alternating which goes first, so that neither side always meets the other's aftermath.
    const pair = i % 2 === 0 ? [measureOurs, measureRaw] : [measureRaw, measureOurs];
    for (const step of pair) await step();
  }
  async function measureOurs() {
    const start = performance.now();
    await apiCreate(env);
    ours.push(since(start));
  }
  async function measureRaw() {
    const start = performance.now();
    await rawRun(env);
    raw.push(since(start));
  }
  await removeLabelled(env.docker, env.instance);
  await removeLabelled(env.docker, env.rawInstance);
  await drained(env);

  const ratio = median(ours) / median(raw);
  return {
    name: '1. Create',
    note: `POST /v1/containers (${n}×, until the running container's object is read) vs dockerode create + start + inspect of the same image with the same options, alternating.`,
    header: ['', 'median ms', 'p90 ms', 'ratio'],
    rows: [
      ['spin-docker', median(ours), quantile(ours, 0.9), ratio],
      ['raw engine', median(raw), quantile(raw, 0.9), 1],
    ],
    figures: { oursMedianMs: median(ours), rawMedianMs: median(raw), ratio, samples: n },
    aims: [{ aim: 'median ratio ≤ 1.10', met: ratio <= 1.1, detail: `ratio ${ratio.toFixed(2)}` }],
  };
}
