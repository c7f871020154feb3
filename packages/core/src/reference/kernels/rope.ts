import type { RopeParams } from '../../kernels/spec.js';
import type { RefBatch, RefTensor } from '../storage.js';

const fr = Math.fround;

/**
 * In place NEOX RoPE on x f32 [≥n, heads, headDim]: within each head, dimension i < ropeDim/2 pairs with
 * i + ropeDim/2 and turns by angle pos · theta^(-2i/ropeDim); dimensions ≥ ropeDim are left alone. Angles follow
 * ggml's f32 recurrence (angle_{i+1} = f32(angle_i · f32(theta^(-2/ropeDim)))), so long positions match it too.
 */
export function rope(x: RefTensor, heads: number, batch: RefBatch, p: RopeParams): void {
  const xs = x.data as Float32Array;
  const half = p.ropeDim / 2;
  const thetaScale = fr(Math.pow(p.theta, fr(-2 / p.ropeDim)));
  const cos = new Float32Array(half);
  const sin = new Float32Array(half);
  for (let i = 0; i < batch.n; i++) {
    let angle = fr(batch.positions[i]!);
    for (let j = 0; j < half; j++) {
      cos[j] = Math.cos(angle);
      sin[j] = Math.sin(angle);
      angle = fr(angle * thetaScale);
    }
    for (let h = 0; h < heads; h++) {
      const base = (i * heads + h) * p.headDim;
      for (let j = 0; j < half; j++) {
        const x0 = xs[base + j]!;
        const x1 = xs[base + j + half]!;
        xs[base + j] = fr(x0 * cos[j]!) - fr(x1 * sin[j]!);
        xs[base + j + half] = fr(x0 * sin[j]!) + fr(x1 * cos[j]!);
      }
    }
  }
}
