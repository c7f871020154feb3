import type { BenchReport } from './schema.js';
import type { Chart } from './svg.js';
import type { Comparison } from './compare.js';
import { describeCpu } from './markdown.js';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Trine ÷ external engine, measured side by side. */
function ratios(report: BenchReport): string {
  if (!report.ratios?.length) return '';
  const rows = report.ratios.map((r) => `<tr><td>${r.suite}</td><td>${esc(r.shape)}</td><td>${r.threads}</td><td>${esc(r.backend)}${r.variant ? ` (${esc(r.variant)})` : ''}</td><td>${r.trine.toPrecision(4)}</td><td>${esc(r.external)}</td><td>${r.other.toPrecision(4)}</td><td><b>${r.ratio.toFixed(2)}×</b></td></tr>`);
  return `<h2>Trine vs external engines (same file, same run)</h2><table><tr><th>suite</th><th>shape</th><th>threads</th><th>trine</th><th>tok/s</th><th>engine</th><th>tok/s</th><th>ratio</th></tr>${rows.join('')}</table>`;
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
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}figure{margin:1.5em 0}.bad{color:#b91c1c}.good{color:#15803d}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}</style></head>
<body><h1>Trine bench — ${esc(report.run.id)} (${report.run.mode})</h1>
<p>${esc(describeCpu(h))} · ${h.physicalCores} physical / ${h.logicalCores} logical cores · ${(h.memoryBytes / 2 ** 30).toFixed(1)} GiB · SIMD ${esc(h.simd.join(' '))} · Node ${esc(h.node)} · commit ${esc(h.commit)}</p>
${regress}
${ratios(report)}
${charts.map((c) => `<figure id="${esc(c.id)}">${c.svg}<figcaption>${esc(c.title)}</figcaption></figure>`).join('\n')}
${report.skipped?.length ? `<h2>Unavailable</h2><ul>${report.skipped.map((k) => `<li>${esc(k.what)}: ${esc(k.reason.split('\n')[0]!)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
}
