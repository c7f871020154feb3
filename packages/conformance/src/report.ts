import type { CaseResult, ConformanceReport } from './types.js';

const MARK: Record<CaseResult['status'], string> = { pass: 'pass', fail: 'FAIL', unsupported: 'unsupported' };

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** One report as lines: a row per case (status, ms, metric or reason), then the counts. */
export function formatReport(report: ConformanceReport): string {
  const width = Math.max(10, ...report.results.map((r) => r.name.length));
  const head = `${report.backend.name} (${report.backend.variant}, ${report.backend.threads} thread${report.backend.threads === 1 ? '' : 's'}), ${report.mode} mode`;
  const lines = [head];
  for (const r of report.results) {
    const detail = r.status === 'pass' ? (r.metric ?? '') : (r.reason ?? '');
    const ms = r.status === 'unsupported' ? '' : `${r.ms.toFixed(r.ms < 10 ? 2 : 0)} ms`;
    lines.push(`  ${pad(r.name, width)}  ${pad(MARK[r.status], 11)}  ${pad(ms, 10)}  ${detail}`);
  }
  lines.push(summaryLine(report));
  return lines.join('\n');
}

export function summaryLine(report: ConformanceReport): string {
  const c = report.counts;
  return `${report.backend.name}: ${c.pass} pass, ${c.fail} fail, ${c.unsupported} unsupported (${(report.ms / 1000).toFixed(1)} s)`;
}

/**
 * The backend × case table: one row per case, one column per backend (pass / FAIL / unsupported / — when the
 * case was not run there; ms per run in perf mode), as Markdown so it pastes into reports.
 */
export function formatMatrix(reports: readonly ConformanceReport[]): string {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const rep of reports)
    for (const r of rep.results)
      if (!seen.has(r.name)) {
        seen.add(r.name);
        names.push(r.name);
      }
  const cols = reports.map((r) => r.backend.name);
  const width = Math.max(4, ...names.map((n) => n.length));
  const colW = cols.map((c) => Math.max(c.length, 11));
  const row = (first: string, cells: string[]) => `| ${pad(first, width)} | ${cells.map((c, i) => pad(c, colW[i]!)).join(' | ')} |`;
  const lines = [row('case', cols), `|${'-'.repeat(width + 2)}|${colW.map((w) => '-'.repeat(w + 2)).join('|')}|`];
  for (const n of names) {
    lines.push(row(n, reports.map((rep) => {
      const r = rep.results.find((x) => x.name === n);
      if (!r) return '—';
      // perf mode: the time per run is the cell (failures and unsupported still show as such).
      return rep.mode === 'perf' && r.status === 'pass' ? `${r.ms.toPrecision(3)} ms` : MARK[r.status];
    })));
  }
  lines.push(row('total', reports.map((rep) => `${rep.counts.pass}/${rep.counts.fail}/${rep.counts.unsupported}`)));
  return lines.join('\n');
}
