import { createReferenceBackend, type KernelBackend, type QuantizedActs, type TensorDesc } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { createWasmBackend } from '../src/index.js';

// lut16 takes a one-byte path on steps (4 columns) whose two pairs each have |q₀| + |q₁| ≤ 127, adds the high
// bytes of the other steps in a second loop and subtracts the biases (assembly/ternary-lut.ts); a row with more
// than 3/8 of its steps unbiased takes two lookups everywhere instead. Row 0 here has 20 % unbiased steps spread
// through every 256-column group, with sums of exactly 127 (biased) and 128 (not) at the border; row 1 has 60 %
// (the two-lookup loop). Products must equal the reference backend's bit for bit, on 4 + 2 + 1 tiles (N = 104): every
// tile grouping, per token and per 256-block, one and two threads.

const K = 2560;
const N = 104;

/** Integer activations with row maximum 127 (so per-token quantization keeps them as they are). */
function activations(rows: number): Float32Array {
  const x = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++)
    for (let s = 0; s < K / 4; s++) {
      const kind = r === 0 ? s % 10 : s % 5 < 3 ? 0 : 3;
      // 0: large, 5: 64 + 64 = 128 (both unbiased); 1: 64 + 63 = 127 (biased); others small (biased)
      const q = kind === 0 ? [127, -120, 90, -3] : kind === 5 ? [-64, 64, 1, 2] : kind === 1 ? [64, -63, -63, 64] : [(s % 60) - 30, 17, -(s % 45), 5];
      for (let j = 0; j < 4; j++) x[r * K + s * 4 + j] = q[j]!;
    }
  return x;
}

function weights(): Int8Array {
  let s = 99;
  return new Int8Array(N * K).map(() => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24) % 3 - 1);
}

async function product(b: KernelBackend, scheme: 'per_token' | 'per_block256', rows: number, acc: boolean): Promise<Float32Array | Int32Array> {
  const w = b.uploadTernary({ name: 'w', rows: N, cols: K, format: 'codes', data: weights(), granularity: 'tensor', scales: Float32Array.of(0.25) });
  const x: TensorDesc = b.upload({ dtype: 'f32', shape: [rows, K], data: activations(rows) });
  const a: QuantizedActs = { scheme, q: b.alloc('i8', [rows, K]), scales: b.alloc('f32', scheme === 'per_token' ? [rows, 1] : [rows, K / 256]) };
  b.quantizeActs(a, x, rows);
  const G = scheme === 'per_token' ? 1 : K / 256;
  const out = b.alloc(acc ? 'i32' : 'f32', acc ? [rows, N * G] : [rows, N]);
  if (acc) b.ternaryMatmulAcc(out, a, w, rows);
  else b.ternaryMatmul(out, a, w, rows);
  return (await b.read(out)).data as Float32Array | Int32Array;
}

describe('lut16 biased steps', () => {
  for (const threads of [1, 2]) {
    it(`matches the reference exactly with biased and unbiased steps mixed (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      const wasm = await createWasmBackend({ threads, ternaryLayout: 'lut16' });
      const ref = createReferenceBackend();
      for (const scheme of ['per_token', 'per_block256'] as const)
        for (const acc of [false, true]) {
          const got = await product(wasm, scheme, 2, acc);
          const want = await product(ref, scheme, 2, acc);
          expect(got, `${scheme} ${acc ? 'acc' : 'matmul'}`).toEqual(want);
        }
      wasm.destroy();
    });
  }
});
