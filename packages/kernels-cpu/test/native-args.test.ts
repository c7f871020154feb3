import { describe, expect, it } from 'vitest';
import { loadNative } from '../src/index.js';

// The addon's one argument checker (native/glue/args.cc), called directly, below the TS backend and core's
// validation: a wrong type, a short buffer or an index outside the cache throws a TypeError naming the argument,
// and an op refused for its last token has written nothing (the checks run before the op's glue).
const addon = loadNative();

describe('native argument checks', () => {
  const be = new addon.NativeCpuBackend('scalar', 1);

  it('refuse a buffer shorter than the op touches, naming it', () => {
    const four = new Float32Array(4);
    expect(() => be.add(new Float32Array(2), four, four, 4)).toThrow(/out: buffer holds 8 bytes, needs 16/);
    expect(() => be.rmsNorm(four, four, new Float32Array(1), 1e-5, 1, 4)).toThrow(/weight: buffer holds 4 bytes, needs 16/);
  });

  it('refuse arguments of the wrong type', () => {
    const four = new Float32Array(4);
    expect(() => be.add(four, four, four, '4' as unknown as number)).toThrow(/count: expected a number/);
    expect(() => be.add(four, [1, 2, 3, 4] as unknown as Float32Array, four, 4)).toThrow(/a: expected a typed array or ArrayBuffer/);
    expect(() => addon.quantizeQ8(four, 0 as unknown as boolean, 1, 4)).toThrow(/isF16: expected a boolean/);
  });

  it('refuse sizes no op can run (they returned silently before)', () => {
    expect(() => be.argmax(new Int32Array(1), new Float32Array(4), 1, 0)).toThrow(/vocab must be positive/);
    expect(() => be.rope(new Float32Array(8), 1, 8, 3, 10000, Int32Array.of(0), 1)).toThrow(/ropeDim must be even/);
    expect(() => addon.quantizeQ8(new Float32Array(4), false, 0, 4)).toThrow(/bad shape/);
  });

  it('refuse a batch-1 kernel index the path does not have, or a shape that is not one', () => {
    const avx512 = addon.hostInfo().avx512vnni ? new addon.NativeCpuBackend('avx512', 1) : null;
    const count = avx512?.gemvKernels().length ?? 0;
    expect(be.gemvKernels()).toEqual([]);
    expect(() => be.setGemv(16, 256, 0)).toThrow(/index 0 is not one of the 0 batch-1 kernels of scalar/);
    expect(() => be.setGemv(0, 256, 0)).toThrow(/setGemv: n and k ≥ 1, index ≥ 0/);
    expect(() => be.setGemv(16, 256, -1)).toThrow(/setGemv: n and k ≥ 1, index ≥ 0/);
    if (avx512) {
      expect(() => avx512.setGemv(16, 256, count)).toThrow(new RegExp(`index ${count} is not one of the ${count}`));
      avx512.setGemv(16, 256, count - 1);
      avx512.destroy();
    }
  });

  it('check every token of a kvStore before storing any', () => {
    const spec = { layers: 1, slots: 1, context: 4, kvHeads: 1, headDim: 4, dtype: 'f32' as const };
    const cache = addon.allocAligned(2 * 4 * 4 * 4);
    const kv = new Float32Array(8).fill(1);
    expect(() => be.kvStore(cache, spec, 0, kv, kv, Int32Array.of(0, 4), Int32Array.of(0, 0), 2)).toThrow(
      /position or slot out of range/,
    );
    expect(new Float32Array(cache).every((x) => x === 0)).toBe(true);
    expect(() => be.kvStore(cache, { ...spec, headDim: 0 }, 0, kv, kv, Int32Array.of(0), Int32Array.of(0), 1)).toThrow(/bad cache spec/);
  });
});
