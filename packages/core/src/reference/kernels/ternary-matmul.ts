import { accumulatorGroups, type QuantizedActs } from '../../kernels/spec.js';
import type { RefTensor, RefTernary } from '../storage.js';
import { ternaryAccumulate } from './ternary-matmul-acc.js';

const fr = Math.fround;

/**
 * out f32 [≥rows, N] = BitLinear(w, a): the exact accumulators, then the float epilogue of the scheme.
 * - per_token: y = f32(f32(acc / s_act) · w_scale)   (bitnet.cpp)
 * - per_block256: y = Σ_g f32(acc_g · f32(d_w,g · d_a,g)), summed in f32 in block order   (ggml TQ × Q8_K)
 */
export function ternaryMatmul(out: RefTensor, a: QuantizedActs<RefTensor>, w: RefTernary, rows: number): void {
  const N = w.rows;
  const G = accumulatorGroups(a.scheme, w.cols);
  const acc = new Int32Array(rows * N * G);
  ternaryAccumulate(acc, a, w, rows);
  const o = out.data as Float32Array;
  const s = a.scales.data as Float32Array;
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < N; n++) {
      if (a.scheme === 'per_token') {
        o[r * N + n] = fr(fr(acc[r * N + n]! / s[r]!) * w.scaleAt(n, 0));
      } else {
        let sum = 0;
        for (let g = 0; g < G; g++) sum = fr(sum + fr(acc[(r * N + n) * G + g]! * fr(w.scaleAt(n, g) * s[r * G + g]!)));
        o[r * N + n] = sum;
      }
    }
  }
}
