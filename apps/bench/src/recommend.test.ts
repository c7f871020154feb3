import { describe, expect, it } from 'vitest';
import { recommend, renderRecommendations } from './recommend.js';
import { REPORT_SCHEMA, type BenchReport, type BenchResult } from './report/schema.js';
import { hostClass } from './host.js';

const r = (o: Partial<BenchResult>): BenchResult => ({ suite: 'decode', engine: 'trine', backend: 'cpu', shape: '2b4t', threads: 1, batch: 1, context: 8, metric: 'tokens_per_s', value: 10, unit: 'tok/s', higherIsBetter: true, ...o });
const host = { cpuModel: 'Test CPU', simd: ['avx2', 'avx512_vnni'], logicalCores: 2, physicalCores: 2, memoryBytes: 8 * 2 ** 30, node: 'v20', platform: 'linux-x64', commit: 'abc' };

function report(results: BenchResult[]): BenchReport {
  return { schema: REPORT_SCHEMA, run: { id: 'r', startedAt: '', mode: 'full', args: [] }, host, results };
}

describe('recommendations', () => {
  const rep = report([
    r({ value: 20 }), r({ threads: 2, value: 24 }), r({ backend: 'wasm', threads: 2, value: 9 }),
    r({ threads: 2, variant: 'q8-lm-head', value: 30 }),
    r({ threads: 2, context: 1024, value: 40 }), // a deeper context is not compared with the shallow ones
    r({ suite: 'quality', threads: 2, variant: 'q8-lm-head', metric: 'q8_top1_agreement', value: 1, unit: 'fraction' }),
    r({ suite: 'quality', threads: 2, variant: 'q8-lm-head', metric: 'q8_logit_nmse', value: 1e-5, unit: 'ratio', higherIsBetter: false }),
    r({ suite: 'prefill', threads: 2, context: 128, value: 80 }),
    ...[[1, 24, 24], [8, 120, 15], [32, 200, 6.25]].flatMap(([b, agg, per]) => [
      r({ suite: 'batched', threads: 2, batch: b, context: undefined, metric: 'aggregate_tokens_per_s', value: agg! }),
      r({ suite: 'batched', threads: 2, batch: b, context: undefined, metric: 'per_sequence_tokens_per_s', value: per! }),
    ]),
    r({ suite: 'load', metric: 'peak_rss_mb', value: 1800, unit: 'MiB', higherIsBetter: false, context: undefined }),
  ]);
  it('favours the fastest decode configuration, and the largest batch that keeps half the single-stream speed', () => {
    const rec = recommend(rep);
    expect(rec.host).toMatchObject({ physicalCores: 2, memoryGiB: 8, gpu: null });
    const s = rec.shapes[0]!;
    expect(s.decode).toEqual({ backend: 'cpu', threads: 2, lmHead: 'q8', tokensPerS: 30 });
    expect(s.prefill).toEqual({ backend: 'cpu', threads: 2, tokensPerS: 80 });
    // batch 32 has the best aggregate but 6.25 < 24 / 2 per sequence: batch 8 is the pick.
    expect(s.batch).toEqual({ size: 8, aggregateTokensPerS: 120, perSequenceTokensPerS: 15, maxThroughputBatch: 32 });
    expect(s.fitsInMemory).toBe(true);
    const md = renderRecommendations(rec);
    expect(md).toContain('**2b4t**: cpu, 2 thread(s), q8 LM head, batch 8 when serving');
    expect(md).toContain('top-1 agreement 100 %');
  });
  it('names host classes by platform, cores and widest SIMD', () => {
    expect(hostClass(host)).toBe('linux-x64-2c-avx512vnni');
    expect(hostClass({ ...host, simd: ['asimd', 'asimddp'], platform: 'linux-arm64', physicalCores: 8 })).toBe('linux-arm64-8c-neondot');
  });
});
