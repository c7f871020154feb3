import type { CpuContext } from '../context.js';
import { rowWidth, type CpuTensor } from '../handles.js';

export function argmax(c: CpuContext, out: CpuTensor, logits: CpuTensor, rows: number): void {
  c.native.argmax(out.data as Int32Array, logits.data as Float32Array, rows, rowWidth(logits));
}
