import type { AttentionParams } from '@trine/core';
import { gone, type WasmContext } from '../context.js';
import type { WasmBatch, WasmKvCache, WasmTensor } from '../handles.js';

/** One (token, head) per work item; each thread gets a scratch row of 2·Dh + positions floats. */
export function attention(c: WasmContext, out: WasmTensor, q: WasmTensor, cache: WasmKvCache, layer: number, batch: WasmBatch, p: AttentionParams): void {
  if (cache.disposed) gone('attention.cache');
  const s = cache.spec;
  let maxPos = 0;
  for (let i = 0; i < batch.n; i++) maxPos = Math.max(maxPos, batch.positions[i]!);
  const stride = Math.ceil(((2 * p.headDim + maxPos + 1) * 4) / 64) * 64;
  const scratch = c.area('attention', stride * c.exec.threads);
  c.exec.run(
    'attention',
    [
      out.ptr, q.ptr, cache.k(layer), cache.v(layer), c.ints('positions', batch.positions),
      c.ints('slots', batch.slots), p.heads, p.kvHeads, p.headDim, s.context, p.scale,
      p.roundProbsF16 ? 1 : 0, s.dtype === 'f16' ? 1 : 0, s.dtype === 'f16' && !cache.hasSpecial ? 1 : 0, scratch, stride,
    ],
    batch.n * p.heads,
  );
}
