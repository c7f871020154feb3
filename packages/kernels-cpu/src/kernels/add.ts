import type { CpuContext } from '../context.js';
import { rowWidth, type CpuTensor } from '../handles.js';

export function add(c: CpuContext, out: CpuTensor, a: CpuTensor, b: CpuTensor, rows: number): void {
  c.native.add(out.data as Float32Array, a.data as Float32Array, b.data as Float32Array, rows * rowWidth(out));
}
