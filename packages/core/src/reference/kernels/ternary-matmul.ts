import { accumulatorGroups, type QuantizedActs } from '../../kernels/spec.js';
import type { RefTensor, RefTernary } from '../storage.js';

const fr = Math.fround;

/**
 * out f32 [≥rows, N] = BitLinear(w, a): the exact integer accumulators (as ternaryMatmulAcc), then the float
 * epilogue of the scheme.
 * - per_token: y = f32(f32(acc / s_act) · w_scale)   (bitnet.cpp)
 * - per_block256: y = Σ_g f32(acc_g · f32(d_w,g · d_a,g)), summed in f32 in block order   (ggml TQ × Q8_K)
 */
export function ternaryMatmul(out: RefTensor, a: QuantizedActs<RefTensor>, w: RefTernary, rows: number): void {
  const { rows: N, cols: K, codes } = w;
  const G = accumulatorGroups(a.scheme, K);
  const span = K / G;
  const q = a.q.data as Int8Array;
  const s = a.scales.data as Float32Array;
  const o = out.data as Float32Array;
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < N; n++) {
      let y = 0;
      for (let g = 0; g < G; g++) {
        let acc = 0;
        const qb = r * K + g * span;
        const wb = n * K + g * span;
        for (let k = 0; k < span; k++) acc += codes[wb + k]! * q[qb + k]!;
        y = a.scheme === 'per_token' ? fr(fr(acc / s[r]!) * w.scaleAt(n, 0)) : fr(y + fr(acc * fr(w.scaleAt(n, g) * s[r * G + g]!)));
      }
      o[r * N + n] = y;
    }
  }
}
