import { f16ToF32, roundF16 } from '../../quant/f16.js';
import type { RefMatrix, RefTensor } from '../storage.js';

/**
 * out[i,:] = matrix · x[select[i],:]. For f16 and q8 matrices x is rounded to f16 first (llama.cpp converts the
 * activation to the matrix's vec-dot type); each dot product is summed in f64 and rounded once to f32
 * (q8: f32(Σ q·x · rowScale)).
 */
export function lmHead(out: RefTensor, x: RefTensor, matrix: RefMatrix, select: Int32Array): void {
  const { rows: V, cols: D } = matrix;
  const xs = x.data as Float32Array;
  const o = out.data as Float32Array;
  const h = new Float64Array(D);
  const lut = matrix.f16 ? f16Table() : null;
  for (let i = 0; i < select.length; i++) {
    const xb = select[i]! * D;
    for (let d = 0; d < D; d++) h[d] = matrix.format === 'f32' ? xs[xb + d]! : roundF16(xs[xb + d]!);
    for (let v = 0; v < V; v++) {
      let sum = 0;
      const rb = v * D;
      if (matrix.f16) for (let d = 0; d < D; d++) sum += h[d]! * lut![matrix.f16[rb + d]!]!;
      else if (matrix.f32) for (let d = 0; d < D; d++) sum += h[d]! * matrix.f32[rb + d]!;
      else {
        const { q, scales } = matrix.q8!;
        for (let d = 0; d < D; d++) sum += h[d]! * q[rb + d]!;
        sum *= scales[v]!;
      }
      o[i * V + v] = sum;
    }
  }
}

let table: Float32Array | null = null;
/** All 65536 half values widened, built once (a 256 KiB lookup makes the scalar LM head bearable). */
function f16Table(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) table[b] = f16ToF32(b);
  }
  return table;
}
