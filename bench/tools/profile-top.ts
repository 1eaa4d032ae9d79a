import { readFileSync } from 'node:fs';

/**
 * `tsx bench/tools/profile-top.ts <file.cpuprofile> [n]`: the functions with the most self time in a V8 CPU
 * profile (as BENCH_PROFILE=1 writes them), with their share of the sampled time, idle time left out.
 */
interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const [file, count = '15'] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: profile-top.ts <file.cpuprofile> [n]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<string, number>();
let busy = 0;
profile.samples.forEach((id, i) => {
  const frame = byId.get(id)?.callFrame;
  if (frame === undefined || frame.functionName === '(idle)' || frame.functionName === '(program)') return;
  const where = frame.url === '' ? '' : ` ${frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|src)\//, '$1/')}:${frame.lineNumber + 1}`;
  const key = `${frame.functionName || '(anonymous)'}${where}`;
  const us = profile.timeDeltas[i] ?? 0;
  self.set(key, (self.get(key) ?? 0) + us);
  busy += us;
});
console.log(`${(busy / 1000).toFixed(0)} ms busy`);
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(count))) {
  console.log(`${((100 * us) / busy).toFixed(1).padStart(5)} %  ${key}`);
}
