import type { BenchReport, BenchResult, HostFacts } from './schema.js';
import type { Comparison } from './compare.js';

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function table(rows: readonly BenchResult[]): string {
  const head = '| engine | backend | shape | threads | batch | ctx | metric | value | unit |\n|---|---|---|---:|---:|---:|---|---:|---|';
  const body = rows.map((r) =>
    `| ${r.engine} | ${r.backend}${r.variant ? ` (${r.variant})` : ''} | ${r.shape} | ${r.threads} | ${r.batch} | ${r.context ?? ''} | ${r.metric} | ${fmt(r.value)} | ${r.unit}${r.note ? ` — ${r.note}` : ''} |`);
  return [head, ...body].join('\n');
}

/** "AMD EPYC (AuthenticAMD family 26 model 2 stepping 1, Zen 5)": the name and the numbers that place it. */
export function describeCpu(h: Pick<HostFacts, 'cpuModel' | 'cpu'>): string {
  const c = h.cpu;
  if (!c) return h.cpuModel;
  const ids = `${c.vendor} family ${c.family} model ${c.model}${c.stepping !== undefined ? ` stepping ${c.stepping}` : ''}`;
  return `${h.cpuModel} (${ids}${c.microarchitecture ? `, ${c.microarchitecture}` : ''})`;
}

/** One row per timed op: its GB/s beside the share of the read bandwidth measured at the same thread count. */
function bandwidthTable(results: readonly BenchResult[]): string | undefined {
  const gbps = results.filter((r) => r.suite === 'kernel' && r.metric === 'gbps');
  if (gbps.length === 0) return undefined;
  const same = (a: BenchResult, b: BenchResult) =>
    a.backend === b.backend && a.variant === b.variant && a.shape === b.shape && a.threads === b.threads && a.batch === b.batch;
  const rows = gbps.map((g) => {
    const pct = results.find((r) => r.suite === 'kernel' && r.metric === 'roofline_pct' && same(r, g));
    return `| ${g.variant ?? ''} | ${g.shape} | ${g.backend} | ${g.threads} | ${g.batch} | ${fmt(g.value)} | ${pct ? `${fmt(pct.value)} %${pct.note ? ` ${pct.note}` : ''}` : ''} |`;
  });
  return ['| op | shape | backend | threads | batch | GB/s | of read bandwidth |', '|---|---|---|---:|---:|---:|---|', ...rows].join('\n');
}

/** The human-readable report: host facts, one table per suite, and the baseline comparison when there is one. */
export function renderMarkdown(report: BenchReport, comparison?: Comparison, extra?: string): string {
  const h = report.host;
  const out: string[] = [
    `# Trine bench — ${report.run.id} (${report.run.mode})`,
    '',
    `Host: ${describeCpu(h)}, ${h.physicalCores} physical / ${h.logicalCores} logical cores, ${(h.memoryBytes / 2 ** 30).toFixed(1)} GiB, ` +
      `SIMD ${h.simd.join(' ') || 'none'}, Node ${h.node}, commit ${h.commit}` +
      (h.memoryBandwidthGBs ? `, read bandwidth ${Object.entries(h.memoryBandwidthGBs).map(([t, v]) => `${fmt(v)} GB/s @${t}t`).join(', ')}` : '') +
      (h.gpu ? `, GPU ${h.gpu}` : '') +
      (h.loadAverage ? `, load average ${h.loadAverage.start.toFixed(1)} at start / ${h.loadAverage.end.toFixed(1)} at end` : ''),
    '',
  ];
  if (h.loadAverage && Math.max(h.loadAverage.start, h.loadAverage.end) > h.logicalCores)
    out.push(`> **Noisy host**: the load average exceeded the ${h.logicalCores} logical cores during this run; other processes shared the CPU, so timings (threaded ones most) are low and unstable.`, '');
  if (report.models && Object.keys(report.models).length > 0) {
    out.push('Models (Trine GGUF writer, random ternary weights): ' +
      Object.entries(report.models).map(([k, m]) => `${k} ${m.format} ${(m.bytes / 2 ** 20).toFixed(0)} MiB`).join(', '), '');
  }
  if (report.ratios && report.ratios.length > 0) {
    out.push('## Trine vs external engines (same file, same run)', '',
      '| suite | shape | threads | trine backend | trine tok/s | engine | engine tok/s | ratio |', '|---|---|---:|---|---:|---|---:|---:|');
    for (const r of report.ratios)
      out.push(`| ${r.suite} | ${r.shape} | ${r.threads} | ${r.backend}${r.variant ? ` (${r.variant})` : ''} | ${fmt(r.trine)} | ${r.external} | ${fmt(r.other)} | **${r.ratio.toFixed(2)}×** |`);
    out.push('');
  }
  const perOp = bandwidthTable(report.results);
  if (perOp) out.push('## Per-op bandwidth (kernel suite)', '', perOp, '');
  const suites = [...new Set(report.results.map((r) => r.suite))];
  for (const s of suites) {
    out.push(`## ${s}`, '', table(report.results.filter((r) => r.suite === s)), '');
  }
  if (report.skipped && report.skipped.length > 0) {
    out.push('## Unavailable / skipped', '');
    for (const k of report.skipped) out.push(`- ${k.what}: unavailable: ${k.reason.split('\n')[0]}`);
    out.push('');
  }
  if (extra) out.push(extra);
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
