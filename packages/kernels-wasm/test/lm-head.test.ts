import { createReferenceBackend, f16ToF32, type KernelBackend, type TensorDesc } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { createWasmBackend } from '../src/index.js';

// The fast f16 LM head reads halves as scaled f32 bit patterns; these cases push it where that trick could break:
// subnormal and extreme halves, x near the f16 maximum, and Inf/NaN in the matrix (which must take the exact kernel).

function halves(n: number, seed: number, pick: (r: number) => number): Uint16Array {
  const h = new Uint16Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    h[i] = pick(s);
  }
  return h;
}

async function logits(b: KernelBackend, m: Uint16Array, V: number, D: number, x: Float32Array): Promise<Float32Array> {
  const mat = b.uploadMatrix({ dtype: 'f16', shape: [V, D], data: m }, 'f16');
  const xt: TensorDesc = b.upload({ dtype: 'f32', shape: [1, D], data: x });
  const out = b.alloc('f32', [1, V]);
  b.lmHead(out, xt, mat, Int32Array.of(0));
  return (await b.read(out)).data as Float32Array;
}

/** Each logit within a few f32 ulps of Σ|x·w| of the f64 reference (the sums run in different orders). */
function expectClose(got: Float32Array, want: Float32Array, m: Uint16Array, x: Float32Array, D: number): void {
  for (let v = 0; v < want.length; v++) {
    let mag = 0;
    for (let d = 0; d < D; d++) mag += Math.abs(x[d]! * f16ToF32(m[v * D + d]!));
    expect(Math.abs(got[v]! - want[v]!)).toBeLessThanOrEqual(mag * 2 ** -20 + 1e-45);
  }
}

describe('lmHead f16', () => {
  const V = 64;
  const D = 92; // not a multiple of 8: the scalar (unpermuted) tail runs too

  it('matches the reference on every finite half, subnormals included, with x up to the f16 maximum', async () => {
    const m = halves(V * D, 5, (s) => {
      const h = s >>> 16;
      return (h & 0x7c00) === 0x7c00 ? h & 0x83ff : h; // any finite half: zero, subnormal, normal, max
    });
    const x = new Float32Array(D).map((_, i) => (i === 0 ? 65504 : i === 1 ? -6e-8 : Math.sin(i) * 100));
    const wasm = await createWasmBackend({ threads: 1 });
    const got = await logits(wasm, m, V, D, x);
    const want = await logits(createReferenceBackend(), m, V, D, x);
    expectClose(got, want, m, x, D);
    wasm.destroy();
  });

  it('propagates Inf and NaN from the matrix like the reference', async () => {
    const m = halves(V * D, 9, (s) => 0x3000 + ((s >>> 20) & 0x3ff));
    m[3 * D + 5] = 0x7c00; // +Inf
    m[7 * D + 0] = 0xfc00; // −Inf
    m[9 * D + 91] = 0x7e00; // NaN
    const x = new Float32Array(D).map((_, i) => 1 + (i % 5));
    const wasm = await createWasmBackend({ threads: 1 });
    const got = await logits(wasm, m, V, D, x);
    const want = await logits(createReferenceBackend(), m, V, D, x);
    expect(got[3]).toBe(Infinity);
    expect(got[7]).toBe(-Infinity);
    expect(Number.isNaN(got[9])).toBe(true);
    for (let v = 0; v < V; v++) expect(Object.is(Number.isFinite(got[v]), Number.isFinite(want[v]))).toBe(true);
    wasm.destroy();
  });
});
