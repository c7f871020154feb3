import { TrineError, type AttentionParams } from '@trine/core';
import type { CpuContext } from '../context.js';
import type { CpuBatch, CpuKvCache, CpuTensor } from '../handles.js';

export function attention(c: CpuContext, out: CpuTensor, q: CpuTensor, cache: CpuKvCache, layer: number, batch: CpuBatch, p: AttentionParams): void {
  c.mine(cache, 'cache');
  if (p.kvHeads !== cache.spec.kvHeads || p.headDim !== cache.spec.headDim)
    throw new TrineError('INVALID_ARGUMENT', 'attention: p does not match the cache', { field: 'attention.p' });
  c.native.attention(out.data as Float32Array, q.data as Float32Array, cache.buffer, cache.spec, layer,
    batch.positions, batch.slots, batch.n, p.heads, p.scale, p.roundProbsF16);
}
