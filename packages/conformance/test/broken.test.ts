/**
 * The checks can fail: backends that wrap the reference and break one op in a way real kernels break are caught
 * by the cases of that op (and only by those, plus the whole-model cases the op feeds).
 */
import {
  ReferenceBackend,
  roundHalfEven,
  TrineError,
  type KernelVariant,
  type QuantizedActs,
  type RefBatch,
  type RefTensor,
  type RefTernary,
  type RopeParams,
  type Support,
} from '@trine/core';
import { describe, expect, it } from 'vitest';
import { runConformance } from '../src/runner.js';
import type { ConformanceReport } from '../src/types.js';

const fr = Math.fround;

/** An off-by-one accumulator: the last accumulator of the last row computed is one too large. */
class OffByOneAcc extends ReferenceBackend {
  override ternaryMatmulAcc(out: RefTensor, a: QuantizedActs<RefTensor>, w: RefTernary, rows: number): void {
    super.ternaryMatmulAcc(out, a, w, rows);
    const perRow = out.rowSize;
    (out.data as Int32Array)[rows * perRow - 1]! += 1;
  }
}

/** GPT-J style rope: rotates adjacent pairs (2i, 2i+1) instead of NEOX's (i, i + d/2). */
class SwappedRopePairs extends ReferenceBackend {
  override rope(x: RefTensor, heads: number, batch: RefBatch, p: RopeParams): void {
    const xs = x.data as Float32Array;
    const half = p.ropeDim / 2;
    for (let i = 0; i < batch.n; i++)
      for (let h = 0; h < heads; h++) {
        const base = (i * heads + h) * p.headDim;
        for (let j = 0; j < half; j++) {
          const angle = batch.positions[i]! * Math.pow(p.theta, (-2 * j) / p.ropeDim);
          const [c, s] = [Math.cos(angle), Math.sin(angle)];
          const x0 = xs[base + 2 * j]!;
          const x1 = xs[base + 2 * j + 1]!;
          xs[base + 2 * j] = x0 * c - x1 * s;
          xs[base + 2 * j + 1] = x0 * s + x1 * c;
        }
      }
  }
}

/** per_token quantization rounding halves away from zero (Math.round-style) instead of to even. */
class RoundHalfUp extends ReferenceBackend {
  override quantizeActs(out: QuantizedActs<RefTensor>, x: RefTensor, rows: number): void {
    if (out.scheme !== 'per_token') return super.quantizeActs(out, x, rows);
    const K = x.rowSize;
    const xs = x.data as Float32Array;
    for (let r = 0; r < rows; r++) {
      let max = 0;
      for (let k = 0; k < K; k++) max = Math.max(max, Math.abs(xs[r * K + k]!));
      const s = fr(127 / Math.max(max, 1e-5));
      (out.scales.data as Float32Array)[r] = s;
      for (let k = 0; k < K; k++) {
        const v = fr(xs[r * K + k]! * s);
        const q = Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
        (out.q.data as Int8Array)[r * K + k] = Math.max(-128, Math.min(127, q));
      }
    }
  }
}

/** Attention that ignores causality: every token reads the whole slot up to the highest position in the batch. */
class NonCausal extends ReferenceBackend {
  override attention(...args: Parameters<ReferenceBackend['attention']>): void {
    const [out, q, cache, layer, batch, p] = args;
    const maxPos = Math.max(...batch.positions);
    const widened = { ...batch, positions: batch.positions.map(() => maxPos) } as RefBatch;
    super.attention(out, q, cache, layer, widened, p);
  }
}

/** argmax returning the last of tied maxima. */
class LastMax extends ReferenceBackend {
  override argmax(out: RefTensor, logits: RefTensor, rows: number): void {
    const V = logits.rowSize;
    const l = logits.data as Float32Array;
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let v = 1; v < V; v++) if (l[r * V + v]! >= l[r * V + best]!) best = v;
      (out.data as Int32Array)[r] = best;
    }
  }
}

/** An f16 LM head that forgets to round x to f16 first: a difference only a tight tolerance sees. */
class UnroundedLmHead extends ReferenceBackend {
  override lmHead(out: RefTensor, x: RefTensor, matrix: Parameters<ReferenceBackend['lmHead']>[2], select: Int32Array): void {
    if (matrix.format !== 'f16') return super.lmHead(out, x, matrix, select);
    const { rows: V, cols: D } = matrix;
    const xs = x.data as Float32Array;
    for (let i = 0; i < select.length; i++)
      for (let v = 0; v < V; v++) {
        let sum = 0;
        for (let d = 0; d < D; d++) sum += xs[select[i]! * D + d]! * f16(matrix.f16![v * D + d]!);
        (out.data as Float32Array)[i * V + v] = sum;
      }
  }
}
function f16(h: number): number {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

/** A backend without an f16 KV cache (it says so, and its kvStore refuses one), one that only says so, and one whose silu throws. */
class ClaimsNoF16Cache extends ReferenceBackend {
  override supports(v: KernelVariant): Support {
    if ((v.op === 'kvStore' || v.op === 'attention') && 'dtype' in v && v.dtype === 'f16') return { ok: false, reason: 'no f16 cache here' };
    return super.supports(v);
  }
}
class NoF16Cache extends ClaimsNoF16Cache {
  override kvStore(...args: Parameters<ReferenceBackend['kvStore']>): void {
    if (args[0].spec.dtype === 'f16') throw new TrineError('UNSUPPORTED', 'no f16 cache here');
    super.kvStore(...args);
  }
}
class ThrowingSilu extends ReferenceBackend {
  override gatedActivation(...args: Parameters<ReferenceBackend['gatedActivation']>): void {
    if (args[3] === 'silu') throw new TrineError('DEVICE_LOST', 'silu pipeline lost');
    super.gatedActivation(...args);
  }
}

function statuses(r: ConformanceReport, prefix: string) {
  return r.results.filter((x) => x.name.startsWith(prefix)).map((x) => x.status);
}

describe('a broken backend fails the cases of the op it breaks', () => {
  it('off-by-one accumulator: every ternaryMatmulAcc case fails, exactly, naming the element', async () => {
    const r = await runConformance(new OffByOneAcc(), { filter: 'ternaryMatmulAcc/,add/', large: false });
    const acc = r.results.filter((x) => x.op === 'ternaryMatmulAcc');
    expect(acc.length).toBeGreaterThan(5);
    for (const c of acc) {
      expect(c.status, c.name).toBe('fail');
      expect(c.reason).toMatch(/acc: 1 of \d+ differ; first at \[\d+, \d+\]: got (-?\d+), expected/);
    }
    expect(statuses(r, 'add/').every((s) => s === 'pass')).toBe(true);
    expect(r.ok).toBe(false);
  });

  it('swapped rope pairs: every rope case fails, and so does the model case', async () => {
    const r = await runConformance(new SwappedRopePairs(), { filter: 'rope/,model/bitnet-b1.58.i2_s.per_token.relu2/logits', large: false });
    for (const c of r.results.filter((x) => x.op === 'rope')) expect(c.status, c.name).toBe('fail');
    const model = r.results.find((x) => x.op === 'model')!;
    expect(model.status).toBe('fail');
    expect(model.reason).toMatch(/nmse/);
  });

  it('round-half-up quantization: the per_token cases with .5 boundaries fail, per_block256 passes', async () => {
    const r = await runConformance(new RoundHalfUp(), { filter: 'quantizeActs/', large: false });
    expect(r.results.find((x) => x.name === 'quantizeActs/per_token/n7.K1001')!.status).toBe('fail');
    expect(r.results.find((x) => x.name === 'quantizeActs/per_token/n7.K1001')!.reason).toMatch(/^q: \d+ of 9009 differ/);
    expect(statuses(r, 'quantizeActs/per_block256').every((s) => s === 'pass')).toBe(true);
  });

  it('non-causal attention: prefill cases fail, single-token decode cases pass', async () => {
    const r = await runConformance(new NonCausal(), { filter: 'attention/f32/gqa1/prefill,attention/f16/gqa2/' });
    expect(statuses(r, 'attention/f32/gqa1/prefill')).toEqual(['fail']);
    expect(statuses(r, 'attention/f16/gqa2/prefill')).toEqual(['fail']);
    expect(statuses(r, 'attention/f16/gqa2/long')).toEqual(['pass']);
  });

  it('last-of-ties argmax fails the tie rows', async () => {
    const r = await runConformance(new LastMax(), { filter: 'argmax/' });
    expect(r.results.find((x) => x.name === 'argmax/n6.V1000')!.status).toBe('fail');
  });

  it('an f16 LM head that skips rounding x to f16 fails by NMSE, f32 passes', async () => {
    const r = await runConformance(new UnroundedLmHead(), { filter: 'lmHead/', large: false });
    for (const c of r.results) expect(c.status, `${c.name}: ${c.metric}`).toBe(c.name.startsWith('lmHead/f16') ? 'fail' : 'pass');
  });
});

/** A legitimate difference: rmsNorm outputs off by ±1e-6 relative (a few ulps, as another summation order gives). */
class NudgedNorm extends ReferenceBackend {
  override rmsNorm(...args: Parameters<ReferenceBackend['rmsNorm']>): void {
    super.rmsNorm(...args);
    const [out, , , , rows] = args;
    const d = out.data as Float32Array;
    for (let i = 0; i < rows * out.rowSize; i++) d[i] = fr(d[i]! * (1 + ((i % 3) - 1) * 1e-6));
  }
}

describe('tolerances are not tighter than legitimate float differences', () => {
  it('a few-ulp rmsNorm difference passes rmsNorm and the whole-model logits cases', async () => {
    const r = await runConformance(new NudgedNorm(), { filter: 'rmsNorm/,/logits/' });
    expect(r.results.filter((x) => x.op === 'model')).toHaveLength(3);
    for (const c of r.results) expect(c.status, `${c.name}: ${c.reason}`).toBe('pass');
  });
});

describe('unsupported is data, an exception is a failure', () => {
  it('cases needing an f16 cache are unsupported with the reason; the rest still run', async () => {
    const r = await runConformance(new NoF16Cache(), { filter: 'kvStore/,attention/f32/gqa1', large: false });
    const f16 = r.results.find((x) => x.name.startsWith('kvStore/f16'))!;
    expect(f16.status).toBe('unsupported');
    expect(f16.reason).toContain('no f16 cache here');
    expect(r.results.find((x) => x.name.startsWith('kvStore/f32'))!.status).toBe('pass');
    expect(r.counts).toEqual({ pass: 2, fail: 0, unsupported: 1 });
    expect(r.ok).toBe(true);
  });

  it('a declared gap that runs and matches the reference fails: supports() cannot hide a working variant', async () => {
    const r = await runConformance(new ClaimsNoF16Cache(), { filter: 'kvStore/', large: false });
    const f16 = r.results.find((x) => x.name.startsWith('kvStore/f16'))!;
    expect(f16.status).toBe('fail');
    expect(f16.reason).toBe('declared unsupported (kvStore/f16/32: no f16 cache here; attention/f16/32: no f16 cache here), yet it runs and matches the reference');
    expect(r.ok).toBe(false);
  });

  it('a kernel that throws fails its case with the message', async () => {
    const r = await runConformance(new ThrowingSilu(), { filter: 'gatedActivation/' });
    for (const c of r.results) {
      if (c.name.includes('/silu/')) expect(c.reason).toMatch(/threw: TrineError: silu pipeline lost/);
      expect(c.status).toBe(c.name.includes('/silu/') ? 'fail' : 'pass');
    }
  });
});

it('roundHalfEven and Math.round disagree on the inputs the halves rows build (the premise of the test above)', () => {
  expect(roundHalfEven(2.5)).toBe(2);
  expect(Math.floor(2.5 + 0.5)).toBe(3);
});
