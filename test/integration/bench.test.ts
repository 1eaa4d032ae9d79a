import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * The benchmarks in quick mode, so that they never rot: every scenario runs against the real processes and
 * prints its table. Figures are reported, never asserted (timings are not test material).
 */
describe('npm run bench -- --quick', () => {
  it('runs every scenario, prints its comparison with the raw engine and writes the figures', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'bench/run.ts', '--quick'], {
      maxBuffer: 10 * 1024 * 1024,
      timeout: 180_000,
    });
    process.stdout.write(stdout);
    const headings = [
      '1. Create',
      '2. Stop',
      '3. List',
      '4. Check-in and reads',
      '5. Idle sweep',
      '6. Concurrency',
      '7. Observed activity',
      '8. Dashboard',
      '9. Sleeping containers',
      '10. Hot paths',
    ];
    for (const heading of headings) {
      expect(stdout).toContain(`## ${heading}`);
    }
    expect(stdout).toMatch(/raw engine/);
    const results = JSON.parse(readFileSync('bench/results/quick.json', 'utf8')) as { scenarios: { figures: Record<string, number> }[] };
    expect(results.scenarios).toHaveLength(headings.length);
    for (const { figures } of results.scenarios) {
      for (const value of Object.values(figures)) expect(Number.isFinite(value)).toBe(true);
    }
  }, 200_000);
});
