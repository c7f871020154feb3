import { TrineError } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { useSwiftShader } from './swiftshader.js';

useSwiftShader();

// supports() answers from the backend's kernel map and declared limits (withKernels): every op is present, and
// attention beyond a 256-wide head is refused with the reason — which is what the kernel itself does when called.
describe('webgpu supports()', () => {
  it('has every op, and states the attention headDim it runs', async () => {
    const be = await createWebGpuBackend();
    try {
      expect(be.supports({ op: 'lmHead', format: 'q8' })).toEqual({ ok: true });
      expect(be.supports({ op: 'attention', dtype: 'f16', headDim: 256 })).toEqual({ ok: true });
      const refused = be.supports({ op: 'attention', dtype: 'f16', headDim: 320 });
      expect(refused.ok).toBe(false);
      expect(!refused.ok && refused.reason).toMatch(/headDim 320/);

      const spec = { layers: 1, slots: 1, context: 4, kvHeads: 1, headDim: 320, dtype: 'f32' as const };
      const cache = be.createKvCache(spec);
      const q = be.alloc('f32', [1, 1, 320]);
      const out = be.alloc('f32', [1, 320]);
      const batch = be.prepareBatch(Int32Array.of(0), Int32Array.of(0));
      let err: unknown = null;
      try {
        be.attention(out, q, cache, 0, batch, { heads: 1, kvHeads: 1, headDim: 320, scale: 1, roundProbsF16: false });
      } catch (e) {
        err = e;
      }
      expect(TrineError.is(err, 'UNSUPPORTED')).toBe(true);
    } finally {
      be.destroy();
    }
  });
});
