import { accumulatorGroups, type QuantizedActs } from '../../kernels/spec.js';
import type { RefTensor, RefTernary } from '../storage.js';

/**
 * The exact integer part of BitLinear: acc[r, n, g] = Σ_{k in group g} w[n,k]·q[r,k] (one group for per_token,
 * one per 256 columns for per_block256). Always exact: |acc| ≤ 128·K < 2^31.
 */
export function ternaryAccumulate(out: Int32Array, a: QuantizedActs<RefTensor>, w: RefTernary, rows: number): void {
  const K = w.cols;
  const N = w.rows;
  const G = accumulatorGroups(a.scheme, K);
  const span = K / G;
  const q = a.q.data as Int8Array;
  const codes = w.codes;
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < N; n++) {
      for (let g = 0; g < G; g++) {
        let acc = 0;
        const qb = r * K + g * span;
        const wb = n * K + g * span;
        for (let k = 0; k < span; k++) acc += codes[wb + k]! * q[qb + k]!;
        out[(r * N + n) * G + g] = acc;
      }
    }
  }
}

/** out i32 [≥rows, N, G] = the raw accumulators. */
export function ternaryMatmulAcc(out: RefTensor, a: QuantizedActs<RefTensor>, w: RefTernary, rows: number): void {
  ternaryAccumulate(out.data as Int32Array, a, w, rows);
}
