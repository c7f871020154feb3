import type { GpuTensor } from '../handles.js';
import { elementwise, type KernelContext } from '../kernel-context.js';

/** out = a + b; an aliased output is bound once, read-write (WebGPU forbids binding one buffer twice writably). */
export function add(g: KernelContext, out: GpuTensor, a: GpuTensor, b: GpuTensor, rows: number): void {
  const count = rows * out.rowSize;
  if (count === 0) return;
  const o = out.buffer;
  if (o === a.buffer && o === b.buffer) elementwise(g, g.programs.get('add', ['rw'], { OUT_IS_AB: true }), [o], count);
  else if (o === a.buffer) elementwise(g, g.programs.get('add', ['r', 'rw'], { OUT_IS_A: true }), [b.buffer, o], count);
  else if (o === b.buffer) elementwise(g, g.programs.get('add', ['r', 'rw'], { OUT_IS_B: true }), [a.buffer, o], count);
  else elementwise(g, g.programs.get('add', ['r', 'r', 'rw']), [a.buffer, b.buffer, o], count);
}
