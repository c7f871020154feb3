import { createReferenceBackend, type KernelBackend, type KvCacheSpec } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { createWasmBackend } from '../src/index.js';

// The f16-cache attention reads halves through a fast, scaled decoding that assumes finite halves; a cache that
// ever stored Inf/NaN must switch to the exact decoding. Dh = 20 also exercises the unpermuted tail (20 = 2·8 + 4).

const H = 4;
const Hkv = 2;
const Dh = 20;
const T = 6;

function values(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  return new Float32Array(n).map(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s >>> 8) / 2 ** 24 - 0.5) * scale;
  });
}

async function run(b: KernelBackend, k: Float32Array, v: Float32Array, q: Float32Array): Promise<Float32Array> {
  const spec: KvCacheSpec = { layers: 1, slots: 1, context: 8, kvHeads: Hkv, headDim: Dh, dtype: 'f16' };
  const cache = b.createKvCache(spec);
  const kt = b.upload({ dtype: 'f32', shape: [T, Hkv, Dh], data: k });
  const vt = b.upload({ dtype: 'f32', shape: [T, Hkv, Dh], data: v });
  const all = b.prepareBatch(Int32Array.from({ length: T }, (_, i) => i), new Int32Array(T));
  b.kvStore(cache, 0, kt, vt, all);
  const qt = b.upload({ dtype: 'f32', shape: [1, H, Dh], data: q });
  const out = b.alloc('f32', [1, H * Dh]);
  const last = b.prepareBatch(Int32Array.of(T - 1), Int32Array.of(0));
  b.attention(out, qt, cache, 0, last, { heads: H, kvHeads: Hkv, headDim: Dh, scale: 1 / Math.sqrt(Dh), roundProbsF16: true });
  return (await b.read(out)).data as Float32Array;
}

describe('attention over an f16 cache', () => {
  const k = values(T * Hkv * Dh, 1, 4);
  const q = values(H * Dh, 3, 4);

  it('fast decoding matches the reference (finite cache, Dh with a tail)', async () => {
    const v = values(T * Hkv * Dh, 2, 4);
    const wasm = await createWasmBackend({ threads: 1 });
    const got = await run(wasm, k, v, q);
    const want = await run(createReferenceBackend(), k, v, q);
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5 * (1 + Math.abs(want[i]!)));
    wasm.destroy();
  });

  it('a cache that stored Inf takes the exact decoding: Inf/NaN land where the reference puts them', async () => {
    const v = values(T * Hkv * Dh, 2, 4);
    v[2 * Hkv * Dh + 5] = 1e6; // position 2, KV head 0, dim 5: beyond f16 range → +Inf in the cache
    const wasm = await createWasmBackend({ threads: 1 });
    const got = await run(wasm, k, v, q);
    const want = await run(createReferenceBackend(), k, v, q);
    expect(got[5]).toBe(Infinity); // query head 0 reads KV head 0
    for (let i = 0; i < got.length; i++) {
      if (Number.isFinite(want[i])) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5 * (1 + Math.abs(want[i]!)));
      else expect(Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]))).toBe(true);
    }
    wasm.destroy();
  });
});
