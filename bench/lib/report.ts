/** A scenario's figures: printed as a table, and kept for bench/results/latest.json. */
export interface ScenarioReport {
  readonly name: string;
  /** What exactly was measured, in a sentence, including what was synthetic. */
  readonly note: string;
  readonly header: readonly string[];
  readonly rows: readonly Row[];
  /** Named figures for the JSON (and for checking the aims). */
  readonly figures: Readonly<Record<string, number>>;
  readonly aims: readonly Aim[];
}

export type Row = readonly [string, ...(string | number)[]];

export interface Aim {
  readonly aim: string;
  readonly met: boolean;
  readonly detail: string;
}

export function printReport(report: ScenarioReport): void {
  const { header } = report;
  const rows = [header, ...report.rows].map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)));
  const widths = header.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  const line = (row: readonly string[]) =>
    row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ');
  const out = [`\n## ${report.name}`, report.note, '', line(rows[0] ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  for (const aim of report.aims) out.push(`${aim.met ? 'met   ' : 'MISSED'} ${aim.aim}: ${aim.detail}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (Math.abs(value) >= 100) return String(Math.round(value));
  return String(Math.round(value * 100) / 100);
}
