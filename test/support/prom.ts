/**
 * The sum of a metric's samples in Prometheus text whose labels include all of `labels` (in any order);
 * NaN when none matches.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = NaN;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) sum = (Number.isNaN(sum) ? 0 : sum) + Number(match[3]);
  }
  return sum;
}
