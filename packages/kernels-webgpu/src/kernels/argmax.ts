import type { GpuTensor } from '../handles.js';
import type { KernelContext } from '../kernel-context.js';

/** The first maximum of each logits row: one workgroup per row. */
export function argmax(g: KernelContext, out: GpuTensor, logits: GpuTensor, rows: number): void {
  if (rows === 0) return;
  g.ctx.dispatch(g.programs.get('argmax', ['r', 'rw']), [logits.buffer, out.buffer], [logits.rowSize], [rows]);
}
