import { roundF16 } from '../../quant/f16.js';
import type { RefBatch, RefKvCache, RefTensor } from '../storage.js';

/** Copy k, v f32 [≥n, Hkv, Dh] into (layer, slots[i], positions[i]); an f16 cache rounds each value to half. */
export function kvStore(cache: RefKvCache, layer: number, k: RefTensor, v: RefTensor, batch: RefBatch): void {
  const row = cache.spec.kvHeads * cache.spec.headDim;
  const half = cache.spec.dtype === 'f16';
  const ks = k.data as Float32Array;
  const vs = v.data as Float32Array;
  const kc = cache.k[layer]!;
  const vc = cache.v[layer]!;
  for (let i = 0; i < batch.n; i++) {
    const dst = cache.offset(batch.slots[i]!, batch.positions[i]!);
    for (let d = 0; d < row; d++) {
      kc[dst + d] = half ? roundF16(ks[i * row + d]!) : ks[i * row + d]!;
      vc[dst + d] = half ? roundF16(vs[i * row + d]!) : vs[i * row + d]!;
    }
  }
}
