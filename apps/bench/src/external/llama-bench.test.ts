import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODEL_SHAPES } from '@trine/core';
import { llamaBenchArgs, llamaBenchResults, runLlamaBench } from './llama-bench.js';
import { ensureBenchModel } from '../model/generate.js';

/** A bitnet.cpp build, when this machine has one (TRINE_BITNET_CPP or the lead's build under /opt). */
const BITNET = process.env.TRINE_BITNET_CPP ?? '/opt/bitnet-src/build/bin/llama-bench';
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

describe.skipIf(!existsSync(BITNET))('bitnet.cpp on a Trine-written file', () => {
  it('loads the tiny bench model (I2_S and TQ2_0) and reports pp and tg rows', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trine-bench-lb-'));
    try {
      for (const format of ['i2_s', 'tq2_0'] as const) {
        const m = await ensureBenchModel(MODEL_SHAPES.tiny!, format, { cacheDir: dir });
        const rows = await runLlamaBench(BITNET, m.path, { threads: [1], prompt: 8, gen: 4, reps: 1, timeoutMs: 60_000 });
        const res = llamaBenchResults('bitnet.cpp', 'tiny', rows);
        expect(res.map((r) => [r.suite, r.threads])).toEqual([['prefill', 1], ['decode', 1]]);
        for (const r of res) expect(r.value).toBeGreaterThan(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
