import type { QuantizedActs } from '@trine/core';
import type { GpuTensor, GpuTernary } from '../handles.js';
import { MAX_GROUPS, ROWS_PER_GROUP, type KernelContext } from '../kernel-context.js';

/** out f32 = BitLinear(w, a): the exact i32 accumulators and the scheme's float epilogue in one dispatch. */
export function ternaryMatmul(g: KernelContext, out: GpuTensor, a: QuantizedActs<GpuTensor>, w: GpuTernary, rows: number): void {
  recordTernary(g, out, a, w, rows, false);
}

/** Tokens that share one pass over the weights (the RT define): 1, 2, 4 or 8. */
function ternaryRowTile(rows: number): number {
  return rows <= 1 ? 1 : rows === 2 ? 2 : rows <= 4 ? 4 : 8;
}

/** The ternary product, writing the float result or (acc) the raw accumulators; split when N exceeds one dispatch. */
export function recordTernary(g: KernelContext, out: GpuTensor, a: QuantizedActs<GpuTensor>, w: GpuTernary, rows: number, acc: boolean): void {
  if (rows === 0) return;
  const RT = ternaryRowTile(rows);
  const block = a.scheme === 'per_block256';
  const file = g.serial ? 'ternary_serial' : block ? 'ternary_per_block256' : 'ternary_per_token';
  const p = g.programs.get(file, ['r', 'r', 'r', 'r', 'rw'], { ACC: acc, RT, BLOCK: block });
  const N = w.rows;
  const perGroup = g.serial ? 64 : ROWS_PER_GROUP;
  const perDispatch = MAX_GROUPS * perGroup;
  for (let n0 = 0; n0 < N; n0 += perDispatch) {
    const groups = Math.ceil(Math.min(perDispatch, N - n0) / perGroup);
    g.ctx.dispatch(
      p,
      [w.weights, w.scales, a.q.buffer, a.scales.buffer, out.buffer],
      [N, w.words, rows, n0, w.granularity === 'block256' ? 1 : 0],
      [groups],
    );
  }
}
