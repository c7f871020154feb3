import type { RefTensor } from '../storage.js';

const fr = Math.fround;

/**
 * out = x / sqrt(mean(x²) + eps) · weight per row, as ggml computes it: squares rounded to f32 and summed in f64,
 * mean and 1/sqrt in f32, then x·scale and ·weight each rounded to f32. out may alias x.
 */
export function rmsNorm(out: RefTensor, x: RefTensor, weight: RefTensor, eps: number, rows: number): void {
  const D = weight.shape[0]!;
  const xs = x.data as Float32Array;
  const o = out.data as Float32Array;
  const w = weight.data as Float32Array;
  for (let r = 0; r < rows; r++) {
    const base = r * D;
    let sum = 0;
    for (let d = 0; d < D; d++) sum += fr(xs[base + d]! * xs[base + d]!);
    const mean = fr(sum / D);
    const scale = fr(1 / fr(Math.sqrt(fr(mean + eps))));
    for (let d = 0; d < D; d++) o[base + d] = fr(fr(xs[base + d]! * scale) * w[d]!);
  }
}
