import { gone, type WasmContext } from '../context.js';
import type { WasmBatch, WasmKvCache, WasmTensor } from '../handles.js';

/** Marks the cache when an Inf or NaN half is stored: attention then decodes halves exactly (slower). */
export function kvStore(c: WasmContext, cache: WasmKvCache, layer: number, k: WasmTensor, v: WasmTensor, batch: WasmBatch): void {
  if (cache.disposed) gone('kvStore.cache');
  const s = cache.spec;
  const special = c.x.kv_store(
    cache.k(layer), cache.v(layer), k.ptr, v.ptr, s.kvHeads * s.headDim,
    c.ints('positions', batch.positions), c.ints('slots', batch.slots), batch.n, s.context,
    s.dtype === 'f16' ? 1 : 0,
  );
  if (special) cache.hasSpecial = true;
}
