import autocannon, { type Options, type Result } from 'autocannon';
import { median, round } from './stats.js';

export interface LoadFigures {
  /** Mean requests per second over the run. */
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
  /** Mean response body size in bytes. */
  readonly bytes: number;
}

/** One autocannon run: `connections` clients for `seconds`, against a URL or a unix socket. */
export async function load(options: Options): Promise<LoadFigures> {
  const result: Result = await autocannon({ connections: 10, pipelining: 1, ...options });
  return {
    rps: round(result.requests.average, 0),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    bytes: result.requests.total === 0 ? 0 : Math.round(result.throughput.total / result.requests.total),
  };
}

/** Medians over rounds of each field. */
function medianOf(runs: readonly LoadFigures[]): LoadFigures {
  const pick = (key: keyof LoadFigures) => median(runs.map((r) => r[key]));
  return { rps: pick('rps'), p50: pick('p50'), p99: pick('p99'), errors: pick('errors'), non2xx: pick('non2xx'), bytes: pick('bytes') };
}

/**
 * Runs our load and the raw engine's load in alternating rounds (ours, raw, ours, raw…), so that both meet
 * the same machine state, and returns the median of each.
 */
export async function interleavedLoad(rounds: number, ours: Options, raw: Options): Promise<{ ours: LoadFigures; raw: LoadFigures }> {
  const oursRuns: LoadFigures[] = [];
  const rawRuns: LoadFigures[] = [];
  for (let i = 0; i < rounds; i += 1) {
    oursRuns.push(await load(ours));
    rawRuns.push(await load(raw));
  }
  return { ours: medianOf(oursRuns), raw: medianOf(rawRuns) };
}
