import { createIdlePass } from '../../src/domain/activity/idle-pass.js';
import { cpuMs, insertRecords, rawRun, removeLabelled, removeRecords, syntheticRecord, type BenchEnv } from '../lib/env.js';
import type { ScenarioReport } from '../lib/report.js';
import { median, since } from '../lib/stats.js';

const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * 5. The idle sweep: running records whose checks are all due, half of them active (a fresh check-in), half
 * idle at their final look, decided by one idle pass as the worker runs it (one listing, a compare-and-set per
 * record, a stop job for each idle one), here in this process so that its own CPU is measured. The pass runs
 * every SD_ACTIVITY_SAMPLE_INTERVAL, so a due check waits at most that long plus this. The engine's nearest
 * equivalent is what a script would do at least: inspect every container once.
 */
export async function sweepScenario(env: BenchEnv): Promise<ScenarioReport> {
  const n = env.quick ? 100 : 1000;
  const rounds = env.quick ? 2 : 3;
  const settings = {
    disableTimeouts: false,
    timeoutInterval: 1800,
    initialTimeoutInterval: 7200,
    activitySources: { observed: true, reported: true },
    quietConnection: null,
    deleteStoppedAfter: null,
    expiryWarning: 600,
  };
  const pass = createIdlePass({
    store: env.store,
    runtime: { inspect: async () => null },
    probe: { unavailable: async () => null, sample: async () => null },
    queue: env.queue,
    events: { publish: async () => undefined },
    clock: { now: Date.now },
    settings,
  });
  const passes: number[] = [];
  const cpuPerCheck: number[] = [];
  const raws: number[] = [];
  const probe = env.docker.getContainer(await rawRun(env));
  for (let round = 0; round < rounds; round += 1) {
    const due = Date.now() - 1;
    const records = Array.from({ length: n }, (_, i) =>
      i % 2 === 0 ? syntheticRecord(i, { active: 3, checkinAt: Date.now(), nextCheckAt: due }) : syntheticRecord(i, { strikes: 1, nextCheckAt: due }),
    );
    await insertRecords(env, records);
    const [t, c] = [performance.now(), cpuNow()];
    const report = await pass.once({ sample: false });
    passes.push(since(t));
    cpuPerCheck.push((cpuNow() - c) / n);
    if (report.checked < n || report.stopping !== n / 2) throw new Error(`the pass decided ${report.checked} of ${n} checks, ${report.stopping} stops`);

    // The engine: n inspects of one running container, 20 at a time (what a script checking n containers needs at least).
    const rawStart = performance.now();
    for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => probe.inspect()));
    raws.push(since(rawStart));
    // The idle ones' stop jobs (in the real worker) find no container and drop their records; the rest go here.
    await removeRecords(
      env,
      records.map((r) => r.id),
    );
  }
  await removeLabelled(env.docker, env.rawInstance);
  const [passMs, rawMs, cpu] = [median(passes), median(raws), median(cpuPerCheck)];
  const workerCpu = cpuMs(env.workerPid);
  return {
    name: '5. Idle sweep',
    note:
      `${n} running records (synthetic: no containers behind them), every check due; half active, half idle at their final look. ` +
      `One idle pass decides them all (${rounds} rounds, medians; this process's CPU). A due check waits for the next pass ` +
      `(SD_ACTIVITY_SAMPLE_INTERVAL, 30 s) plus the pass itself. Engine: ${n} container inspects, 20 at a time. Worker CPU so far: ${workerCpu.toFixed(0)} ms.`,
    header: ['', 'total ms', 'per container ms', 'ratio'],
    rows: [
      ['spin-docker idle pass', passMs, passMs / n, passMs / rawMs],
      [`raw engine, ${n} inspects`, rawMs, rawMs / n, 1],
      ['CPU per check', cpu, '-', '-'],
    ],
    figures: { records: n, passMs, rawInspectMs: rawMs, cpuMsPerCheck: cpu, ratio: passMs / rawMs },
    aims: [{ aim: 'all decided within 5 s of the pass', met: passMs <= 5000, detail: `${(passMs / 1000).toFixed(2)} s` }],
  };
}
