import type { GpuMatrix, GpuTensor } from '../handles.js';
import type { KernelContext } from '../kernel-context.js';

/** out[i,:] = table[ids[i],:]: one dispatch per matrix chunk (each fills the ids whose rows it holds). */
export function embedding(g: KernelContext, out: GpuTensor, table: GpuMatrix, ids: Int32Array): void {
  const D = table.cols;
  const n = ids.length;
  if (n === 0) return;
  const fmt = { F32: table.format === 'f32', F16: table.format === 'f16' };
  const p = g.programs.get('embedding', ['r', 'r', 'rw'], fmt);
  for (const c of table.chunks) {
    const params = new Uint32Array(8 + n);
    params.set([D, n, c.firstRow, c.rows, table.words]);
    params.set(ids, 8);
    g.ctx.dispatch(p, [c.data, c.scales, out.buffer], params, [Math.ceil((n * D) / 256)]);
  }
}
