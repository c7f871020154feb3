import { TrineError, type AttentionParams } from '@trine/core';
import { f32Bits } from '../context.js';
import type { GpuBatch, GpuKvCache, GpuTensor } from '../handles.js';
import type { KernelContext } from '../kernel-context.js';

/** Largest head the attention program holds in its workgroup memory. */
export const MAX_ATTENTION_HEAD_DIM = 256;

/** Causal grouped-query attention: one workgroup per (query head, token). */
export function attention(g: KernelContext, out: GpuTensor, q: GpuTensor, cache: GpuKvCache, layer: number, batch: GpuBatch, p: AttentionParams): void {
  if (batch.n === 0) return;
  if (p.headDim > MAX_ATTENTION_HEAD_DIM)
    throw new TrineError('UNSUPPORTED', `webgpu: attention supports headDim ≤ ${MAX_ATTENTION_HEAD_DIM}`, { field: 'headDim' });
  const { spec } = cache;
  const params = new Uint32Array(8 + 2 * batch.n);
  params.set([p.heads, p.kvHeads, p.headDim, spec.context, f32Bits(p.scale), p.roundProbsF16 ? 1 : 0]);
  params.set(batch.pairs, 8);
  g.ctx.dispatch(g.programs.get('attention', ['r', 'r', 'r', 'rw'], { HALF: spec.dtype === 'f16' }), [q.buffer, cache.k[layer]!, cache.v[layer]!, out.buffer], params, [
    p.heads,
    batch.n,
  ]);
}
