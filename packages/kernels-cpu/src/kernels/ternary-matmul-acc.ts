import type { QuantizedActs } from '@trine/core';
import type { CpuContext } from '../context.js';
import type { CpuTensor, CpuTernary } from '../handles.js';
import { matmul } from './ternary-matmul.js';

export function ternaryMatmulAcc(c: CpuContext, out: CpuTensor, a: QuantizedActs<CpuTensor>, w: CpuTernary, rows: number): void {
  matmul(c, out, a, w, rows, true);
}
