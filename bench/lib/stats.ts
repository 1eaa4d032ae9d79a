/** Small statistics for benchmark samples: medians and quantiles, never a single timing. */

export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  const lowValue = sorted[low] as number;
  return lowValue + ((sorted[high] as number) - lowValue) * (position - low);
}

export const median = (samples: readonly number[]) => quantile(samples, 0.5);

/** Milliseconds since `start` (a performance.now() reading). */
export const since = (start: number) => performance.now() - start;

export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
