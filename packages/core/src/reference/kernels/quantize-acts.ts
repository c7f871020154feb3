import type { QuantizedActs } from '../../kernels/spec.js';
import { roundHalfEven } from '../../quant/f16.js';
import type { RefTensor } from '../storage.js';

const fr = Math.fround;

/**
 * per_token (bitnet.cpp quantize_row_i8_s): s = f32(127 / max(max|x|, 1e-5)) with the max taken in f64,
 * q = clamp(roundHalfEven(f32(x·s)), -128, 127); scales[r] = s.
 */
export function quantizePerToken(q: Int8Array, scales: Float32Array, x: Float32Array, K: number, rows: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * K;
    let max = 0;
    for (let k = 0; k < K; k++) max = Math.max(max, Math.abs(x[base + k]!));
    const s = fr(127 / Math.max(max, 1e-5));
    scales[r] = s;
    for (let k = 0; k < K; k++) {
      const v = roundHalfEven(fr(x[base + k]! * s));
      q[base + k] = v > 127 ? 127 : v < -128 ? -128 : v;
    }
  }
}

/**
 * per_block256 (ggml quantize_row_q8_K_ref): per 256 elements, m = the first element of largest magnitude (signed),
 * iscale = f32(-127/m), q = min(127, roundHalfEven(f32(iscale·x))), d = f32(1/iscale); an all-zero block gets
 * d = 0 and q = 0. scales[r, g] = d.
 */
export function quantizePerBlock256(q: Int8Array, scales: Float32Array, x: Float32Array, K: number, rows: number): void {
  const G = K / 256;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < G; g++) {
      const base = r * K + g * 256;
      let amax = 0;
      let m = 0;
      for (let j = 0; j < 256; j++) {
        const ax = Math.abs(x[base + j]!);
        if (ax > amax) {
          amax = ax;
          m = x[base + j]!;
        }
      }
      if (amax === 0) {
        scales[r * G + g] = 0;
        q.fill(0, base, base + 256);
        continue;
      }
      const iscale = fr(-127 / m);
      for (let j = 0; j < 256; j++) q[base + j] = Math.min(127, roundHalfEven(fr(iscale * x[base + j]!)));
      scales[r * G + g] = fr(1 / iscale);
    }
  }
}

/** Quantize x f32 [≥rows, K] into out with out.scheme. */
export function quantizeActs(out: QuantizedActs<RefTensor>, x: RefTensor, rows: number): void {
  const K = out.q.shape[1]!;
  const q = out.q.data as Int8Array;
  const s = out.scales.data as Float32Array;
  if (out.scheme === 'per_token') quantizePerToken(q, s, x.data as Float32Array, K, rows);
  else quantizePerBlock256(q, s, x.data as Float32Array, K, rows);
}
