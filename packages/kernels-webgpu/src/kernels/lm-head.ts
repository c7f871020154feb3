import type { GpuMatrix, GpuTensor } from '../handles.js';
import { roundUp } from '../handles.js';
import { ROWS_PER_GROUP, type KernelContext } from '../kernel-context.js';

/**
 * Logits of the selected rows, up to 8 at a time: lm_head_prep gathers (and for f16 / q8 rounds to f16) those rows
 * into a scratch buffer, then one dispatch per matrix chunk computes their logits.
 */
export function lmHead(g: KernelContext, out: GpuTensor, x: GpuTensor, matrix: GpuMatrix, select: Int32Array): void {
  const D = matrix.cols;
  const Dp = roundUp(D, 4);
  const V = matrix.rows;
  const scratchBytes = ROWS_PER_GROUP * Dp * 4;
  let xs = g.scratch.lmHead;
  if (!xs || xs.size < scratchBytes) {
    if (xs) g.ctx.retire(xs);
    xs = g.scratch.lmHead = g.ctx.createBuffer(scratchBytes, 'lm head scratch');
  }
  const fmt = { F32: matrix.format === 'f32', F16: matrix.format === 'f16', Q8: matrix.format === 'q8' };
  for (let i0 = 0; i0 < select.length; i0 += ROWS_PER_GROUP) {
    const count = Math.min(ROWS_PER_GROUP, select.length - i0);
    const prep = new Uint32Array(8 + count);
    prep.set([D, Dp, count]);
    prep.set(select.subarray(i0, i0 + count), 8);
    g.ctx.dispatch(g.programs.get('lm_head_prep', ['r', 'rw'], { ROUND: matrix.format !== 'f32' }), [x.buffer, xs], prep, [Math.ceil((count * Dp) / 256)]);
    const p = g.programs.get(g.serial ? 'lm_head_serial' : 'lm_head', ['r', 'r', 'r', 'rw'], { ...fmt, RT: count });
    const perGroup = g.serial ? 64 : ROWS_PER_GROUP;
    for (const c of matrix.chunks) {
      // Chunks hold at most MAX_GROUPS·8 rows; the serial kernel covers 64 per workgroup, so one dispatch suffices.
      g.ctx.dispatch(p, [c.data, c.scales, xs, out.buffer], [D, Dp, c.rows, c.firstRow, V, i0, matrix.words, 0], [Math.ceil(c.rows / perGroup)]);
    }
  }
}
