import type { RopeParams } from '@trine/core';
import type { CpuContext } from '../context.js';
import type { CpuBatch, CpuTensor } from '../handles.js';

export function rope(c: CpuContext, x: CpuTensor, heads: number, batch: CpuBatch, p: RopeParams): void {
  c.native.rope(x.data as Float32Array, heads, p.headDim, p.ropeDim, p.theta, batch.positions, batch.n);
}
