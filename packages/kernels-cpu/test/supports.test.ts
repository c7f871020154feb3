import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../src/index.js';

// supports() answers from the backend's kernel map and declared limits (withKernels): every op is present, and a
// KV cache head wider than the native attention's buffers is refused with the reason, as createKvCache refuses it.
describe('cpu supports()', () => {
  it('has every op, and states the headDim its KV cache and attention run', () => {
    const be = createCpuBackend({ threads: 1 });
    try {
      expect(be.supports({ op: 'ternaryMatmul', scheme: 'per_block256' })).toEqual({ ok: true });
      expect(be.supports({ op: 'attention', dtype: 'f16', headDim: 512 })).toEqual({ ok: true });
      for (const op of ['kvStore', 'attention'] as const) {
        const refused = be.supports({ op, headDim: 640 });
        expect(refused.ok).toBe(false);
        expect(!refused.ok && refused.reason).toMatch(/headDim 640/);
      }
      expect(() => be.createKvCache({ layers: 1, slots: 1, context: 4, kvHeads: 1, headDim: 640, dtype: 'f32' })).toThrow(
        expect.objectContaining({ field: 'spec.headDim' }),
      );
    } finally {
      be.destroy();
    }
  });
});
