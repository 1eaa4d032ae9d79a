import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { serverHostConfig, startBenchEnv, type BenchEnv } from './lib/env.js';
import { printReport, type ScenarioReport } from './lib/report.js';
import { checkinScenario } from './scenarios/checkin.js';
import { concurrencyScenario } from './scenarios/concurrency.js';
import { createScenario } from './scenarios/create.js';
import { dashboardScenario } from './scenarios/dashboard.js';
import { listScenario } from './scenarios/list.js';
import { samplingScenario } from './scenarios/sampling.js';
import { stopScenario } from './scenarios/stop.js';
import { sweepScenario } from './scenarios/sweep.js';
import { floorScenario } from './scenarios/floor.js';
import { wakeScenario } from './scenarios/wake.js';
import { swarmScenario } from './scenarios/swarm.js';

/**
 * `npm run bench [-- --quick] [-- --only create,list]`: every scenario (but `swarm`, run only when named) against the real API and worker
 * processes, a private Redis and this machine's Docker engine, each compared with the raw engine in the same
 * run. Prints a table per scenario and writes bench/results/latest.json (quick.json in quick mode).
 */
const SCENARIOS: Record<string, (env: BenchEnv) => Promise<ScenarioReport>> = {
  create: createScenario,
  stop: stopScenario,
  list: listScenario,
  checkin: checkinScenario,
  sweep: sweepScenario,
  concurrency: concurrencyScenario,
  sampling: samplingScenario,
  dashboard: dashboardScenario,
  wake: wakeScenario,
  floor: floorScenario,
  swarm: swarmScenario,
};

/** Scenarios run only when named with --only (they change the engine's state: a swarm is made for the run). */
const ON_REQUEST = new Set(['swarm']);

function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = option('--only')?.split(',');
  const unknown = (only ?? []).filter((name) => !(name in SCENARIOS));
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);

  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    docker: execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' }).trim(),
    redis: execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? 'unknown',
  };
  process.stdout.write(
    `# spin-docker benchmarks${quick ? ' (quick)' : ''}\n` +
      `${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, Docker ${machine.docker}, Redis ${machine.redis}\n`,
  );

  const env = await startBenchEnv(quick);
  const reports: ScenarioReport[] = [];
  const started = Date.now();
  try {
    // Before any scenario fills the store with records of its own (a create is refused past SD_MAX_CONTAINERS).
    if (only === undefined || only.some((name) => name !== 'swarm')) await serverHostConfig(env);
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      if (only !== undefined ? !only.includes(name) : ON_REQUEST.has(name)) continue;
      const report = await scenario(env);
      printReport(report);
      reports.push(report);
    }
  } finally {
    await env.close();
  }

  const missed = reports.flatMap((r) => r.aims.filter((a) => !a.met).map((a) => `${r.name}: ${a.aim} (${a.detail})`));
  process.stdout.write(
    `\n${reports.length} scenario(s) in ${((Date.now() - started) / 1000).toFixed(0)} s; aims missed: ${missed.length === 0 ? 'none' : `\n  ${missed.join('\n  ')}`}\n`,
  );
  const dir = join('bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, quick ? 'quick.json' : 'latest.json');
  writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), quick, machine, scenarios: reports }, null, 2)}\n`);
  process.stdout.write(`figures written to ${file}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
