import type { AttentionParams, KvCacheSpec, TensorDesc } from '@trine/core';
import type { Uploads } from '../harness.js';
import { normalF32 } from '../inputs.js';
import type { Prng } from '../prng.js';

/** One kvStore call: token i goes to (slots[i], positions[i]). */
export interface StoreCall {
  layer: number;
  slots: number[];
  positions: number[];
}

/** A store call filling positions from..to (inclusive) of one slot, in order (a prefill). */
export function fillSlot(layer: number, slot: number, from: number, to: number): StoreCall {
  const positions = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  return { layer, slots: positions.map(() => slot), positions };
}

/**
 * Run the store calls on a fresh cache. K is scaled by `kScale` (large scores test the softmax's max subtraction).
 * Values are N(0, 1): an f16 cache rounds them on store.
 */
export function storeAll(u: Uploads, rng: Prng, spec: KvCacheSpec, calls: readonly StoreCall[], kScale = 1) {
  const cache = u.kv(spec);
  const width = spec.kvHeads * spec.headDim;
  for (const c of calls) {
    const n = c.positions.length;
    const k = u.tensor('f32', [n, spec.kvHeads, spec.headDim], normalF32(rng, n * width, kScale));
    const v = u.tensor('f32', [n, spec.kvHeads, spec.headDim], normalF32(rng, n * width));
    u.b.kvStore(cache, c.layer, k, v, u.b.prepareBatch(Int32Array.from(c.positions), Int32Array.from(c.slots)));
  }
  return cache;
}

/** Query tensor and output for attention over (slot, position) tokens. */
export function attentionQuery(u: Uploads, rng: Prng, p: AttentionParams, tokens: readonly (readonly [slot: number, pos: number])[]) {
  const n = tokens.length;
  const q = u.tensor('f32', [n, p.heads, p.headDim], normalF32(rng, n * p.heads * p.headDim));
  const out: TensorDesc = u.alloc('f32', [n, p.heads * p.headDim]);
  const batch = u.b.prepareBatch(Int32Array.from(tokens, (t) => t[1]), Int32Array.from(tokens, (t) => t[0]));
  return { q, out, batch };
}
