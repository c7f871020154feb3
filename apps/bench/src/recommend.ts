/**
 * Recommendations: for the measured host (cores, memory, GPU), the backend, threads and batch size the
 * measurements favour, per model shape, with the numbers behind each choice.
 */
import type { BenchReport, BenchResult } from './report/schema.js';

export interface ShapeRecommendation {
  readonly shape: string;
  /** Interactive use (batch 1): the fastest decode configuration. */
  readonly decode?: { readonly backend: string; readonly threads: number; readonly lmHead: 'f16' | 'q8'; readonly tokensPerS: number };
  readonly prefill?: { readonly backend: string; readonly threads: number; readonly tokensPerS: number };
  /** Serving: the batch size with the best aggregate throughput whose per-sequence speed stays ≥ half of batch 1's. */
  readonly batch?: { readonly size: number; readonly aggregateTokensPerS: number; readonly perSequenceTokensPerS: number; readonly maxThroughputBatch: number };
  readonly peakRssMiB?: number;
  readonly fitsInMemory?: boolean;
  readonly reasons: readonly string[];
}

export interface Recommendations {
  readonly host: { readonly cpu: string; readonly physicalCores: number; readonly logicalCores: number; readonly memoryGiB: number; readonly gpu: string | null };
  readonly shapes: readonly ShapeRecommendation[];
}

const f = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

function best(rows: readonly BenchResult[]): BenchResult | undefined {
  return rows.reduce<BenchResult | undefined>((a, r) => (a === undefined || r.value > a.value ? r : a), undefined);
}

export function recommend(report: BenchReport): Recommendations {
  const h = report.host;
  const trine = report.results.filter((r) => r.engine === 'trine');
  const shapes = [...new Set(trine.filter((r) => r.suite === 'decode' || r.suite === 'prefill' || r.suite === 'batched').map((r) => r.shape))];
  const out: ShapeRecommendation[] = [];
  for (const shape of shapes) {
    const reasons: string[] = [];
    const mine = trine.filter((r) => r.shape === shape);
    // Decode at the shallowest context measured, so configurations are compared at the same depth.
    const decodes = mine.filter((r) => r.suite === 'decode' && r.metric === 'tokens_per_s');
    const depth = Math.min(...decodes.map((r) => r.context ?? 0));
    const atDepth = decodes.filter((r) => (r.context ?? 0) === depth);
    const d = best(atDepth);
    let decode: ShapeRecommendation['decode'];
    if (d) {
      decode = { backend: d.backend, threads: d.threads, lmHead: d.variant === 'q8-lm-head' ? 'q8' : 'f16', tokensPerS: d.value };
      const others = atDepth.filter((r) => r !== d).sort((a, b) => b.value - a.value).slice(0, 3);
      reasons.push(`decode: ${d.backend} at ${d.threads} thread(s)${decode.lmHead === 'q8' ? ' with the q8 LM head' : ''} gives ${f(d.value)} tok/s` +
        (others.length ? ` (next: ${others.map((o) => `${o.backend}${o.variant ? `/${o.variant}` : ''} ${o.threads}t ${f(o.value)}`).join(', ')})` : ''));
      if (decode.lmHead === 'q8') {
        const agree = mine.find((r) => r.metric === 'q8_top1_agreement' && r.backend === d.backend && r.threads === d.threads);
        const nmse = mine.find((r) => r.metric === 'q8_logit_nmse' && r.backend === d.backend && r.threads === d.threads);
        if (agree && nmse) reasons.push(`q8 LM head drift: top-1 agreement ${(agree.value * 100).toFixed(0)} %, logit NMSE ${nmse.value.toExponential(2)}`);
      }
    }
    const p = best(mine.filter((r) => r.suite === 'prefill' && r.metric === 'tokens_per_s'));
    const prefill = p ? { backend: p.backend, threads: p.threads, tokensPerS: p.value } : undefined;
    if (p) reasons.push(`prefill: ${p.backend} at ${p.threads} thread(s), ${f(p.value)} tok/s`);

    let batch: ShapeRecommendation['batch'];
    const agg = mine.filter((r) => r.suite === 'batched' && r.metric === 'aggregate_tokens_per_s');
    const bestAgg = best(agg);
    if (bestAgg) {
      const cfg = agg.filter((r) => r.backend === bestAgg.backend && r.threads === bestAgg.threads);
      const per = (b: number) => mine.find((r) => r.suite === 'batched' && r.metric === 'per_sequence_tokens_per_s' && r.backend === bestAgg.backend && r.threads === bestAgg.threads && r.batch === b)?.value ?? 0;
      const single = per(Math.min(...cfg.map((r) => r.batch)));
      const ok = cfg.filter((r) => per(r.batch) >= single / 2);
      const pick = best(ok) ?? bestAgg;
      batch = { size: pick.batch, aggregateTokensPerS: pick.value, perSequenceTokensPerS: per(pick.batch), maxThroughputBatch: bestAgg.batch };
      reasons.push(`batch: ${pick.batch} on ${bestAgg.backend} ${bestAgg.threads}t gives ${f(pick.value)} tok/s in all at ${f(per(pick.batch))} tok/s per sequence` +
        ` (batch 1: ${f(single)}; highest aggregate ${f(bestAgg.value)} at batch ${bestAgg.batch})`);
    }
    const rss = mine.filter((r) => r.metric === 'peak_rss_mb' && r.batch === 1).map((r) => r.value);
    const peak = rss.length ? Math.min(...rss) : undefined;
    const fits = peak === undefined ? undefined : peak * 2 ** 20 < h.memoryBytes * 0.8;
    if (peak !== undefined) reasons.push(`memory: peak RSS ${f(peak)} MiB of ${(h.memoryBytes / 2 ** 30).toFixed(1)} GiB${fits ? '' : ' — too close to the host total'}`);
    out.push({ shape, ...(decode ? { decode } : {}), ...(prefill ? { prefill } : {}), ...(batch ? { batch } : {}), ...(peak !== undefined ? { peakRssMiB: peak, fitsInMemory: fits } : {}), reasons });
  }
  return {
    host: { cpu: h.cpuModel, physicalCores: h.physicalCores, logicalCores: h.logicalCores, memoryGiB: h.memoryBytes / 2 ** 30, gpu: h.gpu ?? null },
    shapes: out,
  };
}

export function renderRecommendations(r: Recommendations): string {
  const lines = [
    '## Recommendations',
    '',
    `Host profile: ${r.host.physicalCores} physical / ${r.host.logicalCores} logical cores, ${r.host.memoryGiB.toFixed(1)} GiB, GPU ${r.host.gpu ?? 'none found'}.`,
    '',
  ];
  if (r.shapes.length === 0) lines.push('No model measurements to base a recommendation on.');
  for (const s of r.shapes) {
    const head = s.decode ? `**${s.shape}**: ${s.decode.backend}, ${s.decode.threads} thread(s)${s.decode.lmHead === 'q8' ? ', q8 LM head' : ''}${s.batch ? `, batch ${s.batch.size} when serving` : ''}` : `**${s.shape}**`;
    lines.push(`- ${head}`);
    for (const why of s.reasons) lines.push(`  - ${why}`);
  }
  lines.push('');
  return lines.join('\n');
}
