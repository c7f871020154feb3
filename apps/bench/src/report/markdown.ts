import type { BenchReport, BenchResult } from './schema.js';
import type { Comparison } from './compare.js';

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function table(rows: readonly BenchResult[]): string {
  const head = '| engine | backend | shape | threads | batch | metric | value | unit |\n|---|---|---|---:|---:|---|---:|---|';
  const body = rows.map((r) =>
    `| ${r.engine} | ${r.backend}${r.variant ? ` (${r.variant})` : ''} | ${r.shape} | ${r.threads} | ${r.batch} | ${r.metric} | ${fmt(r.value)} | ${r.unit}${r.note ? ` — ${r.note}` : ''} |`);
  return [head, ...body].join('\n');
}

/** The human-readable report: host facts, one table per suite, and the baseline comparison when there is one. */
export function renderMarkdown(report: BenchReport, comparison?: Comparison): string {
  const h = report.host;
  const out: string[] = [
    `# Trine bench — ${report.run.id} (${report.run.mode})`,
    '',
    `Host: ${h.cpuModel}, ${h.physicalCores} physical / ${h.logicalCores} logical cores, ${(h.memoryBytes / 2 ** 30).toFixed(1)} GiB, ` +
      `SIMD ${h.simd.join(' ') || 'none'}, Node ${h.node}, commit ${h.commit}` +
      (h.memoryBandwidthGBs ? `, read bandwidth ${Object.entries(h.memoryBandwidthGBs).map(([t, v]) => `${fmt(v)} GB/s @${t}t`).join(', ')}` : '') +
      (h.gpu ? `, GPU ${h.gpu}` : ''),
    '',
  ];
  const suites = [...new Set(report.results.map((r) => r.suite))];
  for (const s of suites) {
    out.push(`## ${s}`, '', table(report.results.filter((r) => r.suite === s)), '');
  }
  if (comparison) {
    out.push('## Against the baseline', '', `${comparison.matched} results matched.`, '');
    if (comparison.regressions.length === 0) out.push('No regressions.');
    for (const r of comparison.regressions) {
      out.push(`- **REGRESSION** ${r.key}: ${fmt(r.baseline)} → ${fmt(r.current)} (${(r.change * 100).toFixed(1)} %)`);
    }
    for (const r of comparison.improvements) {
      out.push(`- improvement ${r.key}: ${fmt(r.baseline)} → ${fmt(r.current)} (+${(r.change * 100).toFixed(1)} %)`);
    }
    out.push('');
  }
  return out.join('\n');
}
