import type { CpuContext } from '../context.js';
import type { CpuBatch, CpuKvCache, CpuTensor } from '../handles.js';

export function kvStore(c: CpuContext, cache: CpuKvCache, layer: number, k: CpuTensor, v: CpuTensor, batch: CpuBatch): void {
  c.mine(cache, 'cache');
  c.native.kvStore(cache.buffer, cache.spec, layer, k.data as Float32Array, v.data as Float32Array, batch.positions,
    batch.slots, batch.n);
}
