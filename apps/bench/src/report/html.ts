import type { BenchReport } from './schema.js';
import type { Chart } from './svg.js';
import type { Comparison } from './compare.js';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A self-contained page: host facts, regressions, and every chart inline (no scripts, no external assets). */
export function renderHtml(report: BenchReport, charts: readonly Chart[], comparison?: Comparison): string {
  const h = report.host;
  const regress = comparison
    ? comparison.regressions.length
      ? `<ul class="bad">${comparison.regressions.map((r) => `<li>${esc(r.key)}: ${r.baseline.toPrecision(4)} → ${r.current.toPrecision(4)} (${(r.change * 100).toFixed(1)} %)</li>`).join('')}</ul>`
      : '<p class="good">No regressions against the baseline.</p>'
    : '';
  return `<!doctype html><html><head><meta charset="utf-8"><title>Trine bench ${esc(report.run.id)}</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}figure{margin:1.5em 0}.bad{color:#b91c1c}.good{color:#15803d}</style></head>
<body><h1>Trine bench — ${esc(report.run.id)} (${report.run.mode})</h1>
<p>${esc(h.cpuModel)} · ${h.physicalCores} physical / ${h.logicalCores} logical cores · ${(h.memoryBytes / 2 ** 30).toFixed(1)} GiB · SIMD ${esc(h.simd.join(' '))} · Node ${esc(h.node)} · commit ${esc(h.commit)}</p>
${regress}
${charts.map((c) => `<figure id="${esc(c.id)}">${c.svg}<figcaption>${esc(c.title)}</figcaption></figure>`).join('\n')}
</body></html>
`;
}
