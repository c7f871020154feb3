import { roundF16 } from '../quant/f16.js';
import type { RandomWeightValues } from './build.js';
import { WeightRng } from './rng.js';

/**
 * Weights drawn like the shared fixtures' (fixtures README §2) from one WeightRng in file order: embeddings
 * 0.15·N(0, 1), norms 1 + 0.1·N(0, 1), uniform ternary codes with one scale per tensor in [0.08, 0.20] rounded to
 * F16 (repeated per block for TQ types) — wide enough that attention is not uniform and greedy decoding does not
 * collapse into one repeated token. Integer math and correctly rounded operations only: the same bytes everywhere.
 */
export function seededWeights(seed: number | bigint): RandomWeightValues {
  const rng = new WeightRng(seed);
  return {
    floats(t, count) {
      if (t.role === 'embedding') return Float32Array.from({ length: count }, () => 0.15 * rng.normal());
      if (t.role === 'norm') return Float32Array.from({ length: count }, () => 1 + 0.1 * rng.normal());
      return Float32Array.from({ length: count }, () => 0.5 + rng.uniform()); // per-tensor scales: never exactly 1
    },
    ternary(t, rows, cols) {
      const scale = roundF16(0.08 + 0.12 * rng.uniform());
      const codes = new Int8Array(rows * cols);
      rng.fillTernary(codes);
      return { codes, scales: t.type === 'I2_S' ? Float32Array.of(scale) : new Float32Array((rows * cols) / 256).fill(scale) };
    },
  };
}
