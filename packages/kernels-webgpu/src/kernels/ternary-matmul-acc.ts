import type { QuantizedActs } from '@trine/core';
import type { GpuTensor, GpuTernary } from '../handles.js';
import type { KernelContext } from '../kernel-context.js';
import { recordTernary } from './ternary-matmul.js';

/** out i32 [rows, N, G] = the exact accumulators: the ternary program without its epilogue (ACC). */
export function ternaryMatmulAcc(g: KernelContext, out: GpuTensor, a: QuantizedActs<GpuTensor>, w: GpuTernary, rows: number): void {
  recordTernary(g, out, a, w, rows, true);
}
