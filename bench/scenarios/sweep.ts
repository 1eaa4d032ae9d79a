import { cpuMs, insertRecords, rawRun, removeLabelled, removeRecords, syntheticRecord, type BenchEnv } from '../lib/env.js';
import type { ScenarioReport } from '../lib/report.js';
import { median, since } from '../lib/stats.js';

/**
 * 5. The idle sweep: running records whose checks fall due at the same moment, half of them active (a fresh
 * check-in), half idle at their final look. Measured from the due time until every idle one is marked for
 * stopping and every active one is rescheduled; plus the worker's CPU time per check. The engine's nearest
 * equivalent is what a script would do at least: inspect every container once.
 */
export async function sweepScenario(env: BenchEnv): Promise<ScenarioReport> {
  const n = env.quick ? 100 : 1000;
  const due = Date.now() + 3000;
  const records = Array.from({ length: n }, (_, i) =>
    i % 2 === 0 ? syntheticRecord(i, { active: 3, checkinAt: Date.now(), nextCheckAt: due }) : syntheticRecord(i, { strikes: 1, nextCheckAt: due }),
  );
  await insertRecords(env, records);
  for (let i = 0; i < records.length; i += 200) {
    await Promise.all(records.slice(i, i + 200).map((r) => env.queue.scheduleCheck({ id: r.id, run: r.run, at: due })));
  }
  const idle = records.filter((r) => r.strikes === 1).map((r) => r.id);
  const active = records.filter((r) => r.strikes === 0).map((r) => r.id);

  await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
  const cpuBefore = cpuMs(env.workerPid);
  const start = performance.now();
  const done = async () => {
    const pipeline = env.redis.pipeline();
    for (const id of idle) pipeline.hget(`${env.prefix}c:${id}`, 'status');
    for (const id of active) pipeline.hget(`${env.prefix}c:${id}`, 'next_check_at');
    const answers = ((await pipeline.exec()) ?? []).map(([, value]) => value as string | null);
    const idleLeft = answers.slice(0, idle.length).filter((status) => status === 'running').length;
    const activeLeft = answers.slice(idle.length).filter((next) => next === String(due)).length;
    return idleLeft + activeLeft === 0;
  };
  const deadline = Date.now() + 120_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('the sweep did not finish within 2 minutes');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const sweepMs = since(start);
  const cpuPerCheck = (cpuMs(env.workerPid) - cpuBefore) / n;

  // The engine: n inspects of one running container, 20 at a time (what a script checking n containers needs at least).
  const probe = env.docker.getContainer(await rawRun(env));
  const inspects: number[] = [];
  const rawStart = performance.now();
  for (let i = 0; i < n; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, n - i) }, async () => {
        const t = performance.now();
        await probe.inspect();
        inspects.push(since(t));
      }),
    );
  }
  const rawMs = since(rawStart);
  await removeLabelled(env.docker, env.rawInstance);

  // Leave nothing behind: the active ones stay running in the store with a check hours away; the idle ones'
  // stop jobs find no container and drop their records.
  await removeRecords(env, records.map((r) => r.id));
  return {
    name: '5. Idle sweep',
    note:
      `${n} running records (synthetic: no containers behind them), checks all due at one moment; half active, half idle at their ` +
      `final look. Measured from the due time until all idle ones are marked for stopping and all active ones rescheduled ` +
      `(polled every 20 ms). Worker CPU from /proc. Engine: ${n} container inspects, 20 at a time.`,
    header: ['', 'total ms', 'per container ms', 'ratio'],
    rows: [
      ['spin-docker sweep', sweepMs, sweepMs / n, sweepMs / rawMs],
      [`raw engine, ${n} inspects`, rawMs, rawMs / n, 1],
      ['worker CPU per check', cpuPerCheck, '-', '-'],
      ['engine inspect, median', median(inspects), '-', '-'],
    ],
    figures: { records: n, sweepMs, rawInspectMs: rawMs, workerCpuMsPerCheck: cpuPerCheck, ratio: sweepMs / rawMs },
    aims: [{ aim: 'all processed within 5 s of being due', met: sweepMs <= 5000, detail: `${(sweepMs / 1000).toFixed(2)} s` }],
  };
}
