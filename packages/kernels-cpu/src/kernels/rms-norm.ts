import type { CpuContext } from '../context.js';
import type { CpuTensor } from '../handles.js';

export function rmsNorm(c: CpuContext, out: CpuTensor, x: CpuTensor, weight: CpuTensor, eps: number, rows: number): void {
  const d = weight.shape[0]!;
  c.native.rmsNorm(out.data as Float32Array, x.data as Float32Array, weight.data as Float32Array, eps, rows, d);
}
