import { gone, type WasmContext } from '../context.js';
import type { WasmMatrix, WasmTensor } from '../handles.js';

/** Logits of the selected rows, one parallel matrix-vector product each (vocabulary rows split over threads). */
export function lmHead(c: WasmContext, out: WasmTensor, x: WasmTensor, matrix: WasmMatrix, select: Int32Array): void {
  if (matrix.disposed) gone('lmHead.matrix');
  const { rows: V, cols: D } = matrix;
  for (let i = 0; i < select.length; i++) {
    let xp = x.ptr + select[i]! * D * 4;
    const fast = matrix.format === 'f16' && !matrix.hasSpecial;
    if (matrix.format !== 'f32') {
      const rounded = c.area('lmhead-x', D * 4);
      // the fast f16 kernel reads halves as f32 bit patterns scaled by 2^-112, even/odd split, so it takes x
      // scaled by 2^112 and permuted to match
      c.x.round_f16_row_scaled(rounded, xp, D, fast ? 2 ** 112 : 1, fast ? 1 : 0);
      xp = rounded;
    }
    const o = out.ptr + i * V * 4;
    if (fast) c.exec.run('lm_head_f16', [o, xp, matrix.ptr, D], V);
    else if (matrix.format === 'f16') c.exec.run('lm_head_f16_exact', [o, xp, matrix.ptr, D], V);
    else if (matrix.format === 'f32') c.exec.run('lm_head_f32', [o, xp, matrix.ptr, D], V);
    else c.exec.run('lm_head_q8', [o, xp, matrix.ptr, matrix.scalesPtr, D], V);
  }
}
