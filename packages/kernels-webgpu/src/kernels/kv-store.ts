import type { GpuBatch, GpuKvCache, GpuTensor } from '../handles.js';
import type { KernelContext } from '../kernel-context.js';

/** Store k, v rows at (layer, slot, position) of each token; the (position, slot) pairs ride in the parameters. */
export function kvStore(g: KernelContext, cache: GpuKvCache, layer: number, k: GpuTensor, v: GpuTensor, batch: GpuBatch): void {
  const { spec } = cache;
  const E = spec.kvHeads * spec.headDim;
  const half = spec.dtype === 'f16';
  const params = new Uint32Array(8 + 2 * batch.n);
  params.set([batch.n, E, spec.context, spec.slots]);
  params.set(batch.pairs, 8);
  const count = batch.n * (half ? E / 2 : E);
  if (count === 0) return;
  g.ctx.dispatch(g.programs.get('kv_store', ['r', 'r', 'rw', 'rw'], { HALF: half }), [k.buffer, v.buffer, cache.k[layer]!, cache.v[layer]!], params, [
    Math.ceil(count / 256),
  ]);
}
