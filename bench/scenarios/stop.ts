import { apiCreate, drained, rawRun, removeLabelled, type BenchEnv } from '../lib/env.js';
import type { ScenarioReport } from '../lib/report.js';
import { median, since } from '../lib/stats.js';

/** Polls the record's status in Redis every 2 ms: cheap, and fine-grained next to a stop of ~100+ ms. */
async function untilStopped(env: BenchEnv, id: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await env.redis.hget(`${env.prefix}c:${id}`, 'status')) !== 'stopped') {
    if (Date.now() > deadline) throw new Error(`container ${id} never reached stopped`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** 2. PATCH status=stopped: the answer, and the full stop until the record says stopped, vs a raw stop. */
export async function stopScenario(env: BenchEnv): Promise<ScenarioReport> {
  const n = env.quick ? 3 : 20;
  const answers: number[] = [];
  const full: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const ours = await apiCreate(env);
    const theirs = await rawRun(env);
    const pair = i % 2 === 0 ? [measureOurs, measureRaw] : [measureRaw, measureOurs];
    for (const step of pair) await step();

    async function measureOurs() {
      const start = performance.now();
      const res = await fetch(`${env.url}/v1/containers/${ours}`, {
        method: 'PATCH',
        headers: { authorization: env.authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'stopped' }),
      });
      await res.arrayBuffer();
      answers.push(since(start));
      await untilStopped(env, ours);
      full.push(since(start));
    }
    async function measureRaw() {
      const start = performance.now();
      await env.docker.getContainer(theirs).stop({ t: 10 });
      raw.push(since(start));
    }
  }
  await removeLabelled(env.docker, env.instance);
  await removeLabelled(env.docker, env.rawInstance);
  await drained(env);

  const ratio = median(full) / median(raw);
  return {
    name: '2. Stop',
    note: `PATCH status=stopped on a running demo container (${n}×): the answer, and until the record says stopped (polled in Redis every 2 ms) vs a raw engine stop of an identical container, alternating.`,
    header: ['', 'median ms', 'ratio'],
    rows: [
      ['PATCH answer (stopping)', median(answers), '-'],
      ['spin-docker full stop', median(full), ratio],
      ['raw engine stop', median(raw), 1],
    ],
    figures: { patchMedianMs: median(answers), fullStopMedianMs: median(full), rawStopMedianMs: median(raw), ratio, samples: n },
    aims: [
      { aim: 'PATCH answers in under 20 ms (median)', met: median(answers) < 20, detail: `${median(answers).toFixed(1)} ms` },
      { aim: 'full stop ≤ 1.2 × raw stop', met: ratio <= 1.2, detail: `ratio ${ratio.toFixed(2)}` },
    ],
  };
}
