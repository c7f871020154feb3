import { roundHalfEven } from '../quant/f16.js';

const fr = Math.fround;

/**
 * The opt-in 8-bit output matrix: per row, m = max|w|, scale = f32(m / 127), q = clamp(roundHalfEven(f32(w · f32(127/m))),
 * −127, 127); an all-zero row gets scale 0 and q = 0. Shared so every backend quantizes the same way at load.
 */
export function quantizeRowsQ8(values: Float32Array, rows: number, cols: number): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(rows * cols);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const b = r * cols;
    let m = 0;
    for (let c = 0; c < cols; c++) m = Math.max(m, Math.abs(values[b + c]!));
    if (m === 0) continue;
    const inv = fr(127 / m);
    scales[r] = fr(m / 127);
    for (let c = 0; c < cols; c++) {
      const v = roundHalfEven(fr(values[b + c]! * inv));
      q[b + c] = v > 127 ? 127 : v < -127 ? -127 : v;
    }
  }
  return { q, scales };
}
