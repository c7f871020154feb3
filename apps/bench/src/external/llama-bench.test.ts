import { describe, expect, it } from 'vitest';
import { llamaBenchArgs } from './llama-bench.js';
import { engineRatios, kernelShapes } from '../run.js';
import type { BenchResult } from '../report/schema.js';

describe('llama-bench invocation', () => {
  it('asks for one pp and one tg test at every thread count, as JSON', () => {
    expect(llamaBenchArgs('/m/2b4t.gguf', { threads: [1, 2], prompt: 128, gen: 64, reps: 3 })).toEqual(
      ['-m', '/m/2b4t.gguf', '-p', '128', '-n', '64', '-t', '1,2', '-r', '3', '-o', 'json']);
  });
  it('rejects arguments llama-bench would misread', () => {
    expect(() => llamaBenchArgs('m', { threads: [], prompt: 1, gen: 1, reps: 1 })).toThrow(/threads/);
    expect(() => llamaBenchArgs('m', { threads: [0], prompt: 1, gen: 1, reps: 1 })).toThrow(/threads/);
    expect(() => llamaBenchArgs('m', { threads: [1], prompt: -1, gen: 1, reps: 1 })).toThrow(/prompt/);
  });
});

describe('side-by-side ratios', () => {
  const r = (o: Partial<BenchResult>): BenchResult => ({ suite: 'decode', engine: 'trine', backend: 'cpu', shape: '2b4t', threads: 1, batch: 1, metric: 'tokens_per_s', value: 20, unit: 'tok/s', higherIsBetter: true, ...o });
  it('divides Trine by the external engine at the same shape, suite and threads, at the shallowest context', () => {
    const ratios = engineRatios([
      r({ value: 30, context: 8 }), r({ value: 10, context: 1024 }), r({ threads: 2, value: 36, context: 8 }),
      r({ engine: 'bitnet.cpp', value: 15, context: 64 }), r({ engine: 'bitnet.cpp', threads: 2, value: 24, context: 64 }),
      r({ suite: 'prefill', value: 90, context: 128 }), r({ suite: 'prefill', engine: 'bitnet.cpp', value: 60, context: 128 }),
    ]);
    expect(ratios.map((x) => [x.suite, x.threads, x.ratio])).toEqual([['decode', 1, 2], ['decode', 2, 1.5], ['prefill', 1, 1.5]]);
  });
});

describe('kernel shapes', () => {
  it('measures 2B4T\'s projections and f16 LM head unless only the tiny shape is asked for', () => {
    expect(kernelShapes(['2b4t']).map((s) => s.name)).toEqual(['2560x2560', '640x2560', '6912x2560', '2560x6912', 'lm_head 128256x2560']);
    expect(kernelShapes(['tiny']).map((s) => s.name)).toEqual(['256x256', '128x256', '512x256', '256x512', 'lm_head 960x256']);
  });
});
