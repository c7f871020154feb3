import type { BenchReport, BenchResult } from './schema.js';

export interface Chart {
  readonly id: string;
  readonly title: string;
  readonly svg: string;
}

const PALETTE: Record<string, string> = { trine: '#2563eb', 'bitnet.cpp': '#f97316', 'llama.cpp': '#16a34a' };

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function label(r: BenchResult): string {
  return `${r.engine === 'trine' ? r.backend : r.engine}${r.variant ? `/${r.variant}` : ''} · ${r.shape} · ${r.threads}t · b${r.batch}`;
}

/** A horizontal bar chart, one bar per result; colour by engine so Trine and the external engines stand apart. */
export function barChart(title: string, unit: string, rows: readonly BenchResult[]): string {
  const barH = 20;
  const gap = 6;
  const labelW = 330;
  const plotW = 420;
  const top = 34;
  const height = top + rows.length * (barH + gap) + 10;
  const max = Math.max(...rows.map((r) => r.value), 1e-9);
  const bars = rows.map((r, i) => {
    const y = top + i * (barH + gap);
    const w = Math.max(1, (r.value / max) * plotW);
    const colour = PALETTE[r.engine] ?? '#6b7280';
    return `<text x="${labelW - 6}" y="${y + barH * 0.72}" text-anchor="end" font-size="12">${esc(label(r))}</text>` +
      `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colour}"><title>${esc(`${label(r)}: ${r.value} ${unit}`)}</title></rect>` +
      `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + barH * 0.72}" font-size="12">${esc(r.value.toPrecision(4))}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 80}" height="${height}" font-family="sans-serif">` +
    `<text x="8" y="20" font-size="15" font-weight="bold">${esc(title)} (${esc(unit)})</text>${bars.join('')}</svg>`;
}

/** One chart per suite × metric. */
export function renderCharts(report: BenchReport): Chart[] {
  const groups = new Map<string, BenchResult[]>();
  for (const r of report.results) {
    const k = `${r.suite}:${r.metric}`;
    const list = groups.get(k) ?? [];
    list.push(r);
    groups.set(k, list);
  }
  return [...groups].map(([k, rows]) => {
    const [suite, metric] = k.split(':') as [string, string];
    const title = `${suite} — ${metric}`;
    return { id: k.replace(/[^a-z0-9]+/gi, '-'), title, svg: barChart(title, rows[0]!.unit, rows) };
  });
}
