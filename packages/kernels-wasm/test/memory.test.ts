import {
  BitNetModel,
  TrineError,
  buildDefaultModelBytes,
  buildDefaultTokenizerSpec,
  createReferenceBackend,
  encodeTernary,
  openModel,
  type KernelBackend,
  type TensorDesc,
} from '@trine/core';
import { describe, expect, it } from 'vitest';
import { createWasmBackend, type WasmBackend } from '../src/index.js';

function codes(n: number, seed: number): Int8Array {
  const c = new Int8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    c[i] = (s >>> 24) % 3 - 1;
  }
  return c;
}

async function accumulators(b: KernelBackend, w: ReturnType<typeof encodeTernary>, x: Float32Array, K: number): Promise<Int32Array> {
  const xt = b.upload({ dtype: 'f32', shape: [1, K], data: x });
  const q: TensorDesc = b.alloc('i8', [1, K]);
  const s = b.alloc('f32', [1, 1]);
  const acts = { scheme: 'per_token' as const, q, scales: s };
  b.quantizeActs(acts, xt, 1);
  const wt = b.uploadTernary(w);
  const out = b.alloc('i32', [1, w.rows, 1]);
  b.ternaryMatmulAcc(out, acts, wt, 1);
  return (await b.read(out)).data as Int32Array;
}

describe('wasm memory', () => {
  it('refuses what does not fit the budget with BUDGET_EXCEEDED, before allocating', async () => {
    const b = await createWasmBackend({ threads: 1, maxMemoryBytes: 4 * 2 ** 20 });
    const used = b.memoryUsed;
    const w = encodeTernary(codes(4096 * 4096, 1), 4096, 4096, 'i2_s', Float32Array.of(0.5), 'blk.0.ffn_up.weight');
    let err: unknown;
    try {
      b.uploadTernary(w);
    } catch (e) {
      err = e;
    }
    expect(TrineError.is(err, 'BUDGET_EXCEEDED')).toBe(true);
    expect((err as TrineError).message).toMatch(/ternary blk\.0\.ffn_up\.weight needs 4\.0 MiB more/);
    expect(b.memoryUsed).toBe(used);
    // the budget was not poisoned: something that fits still loads
    const small = b.uploadTernary(encodeTernary(codes(256 * 256, 2), 256, 256, 'i2_s', Float32Array.of(0.5)));
    expect(b.memoryUsed).toBeGreaterThan(used);
    b.dispose(small);
    expect(b.memoryUsed).toBe(used);
    b.destroy();
  });

  it('reuses freed memory and hands out zeroed tensors', async () => {
    const b = await createWasmBackend({ threads: 1 });
    const a = b.upload({ dtype: 'f32', shape: [1024], data: new Float32Array(1024).fill(7) });
    b.dispose(a);
    const c = b.alloc('f32', [1024]) as unknown as { ptr: number };
    expect(c.ptr).toBe((a as unknown as { ptr: number }).ptr);
    const back = (await b.read(c as unknown as TensorDesc)).data as Float32Array;
    expect(back.every((v) => v === 0)).toBe(true);
    b.destroy();
  });

  it('computes correctly on weights placed above 2 GiB (unsigned wasm32 addresses)', async () => {
    const b: WasmBackend = await createWasmBackend({ threads: 1 });
    expect(b.info.details?.memoryLimitBytes).toBe(4 * 2 ** 30);
    // fresh memory is not touched by alloc, so this costs address space only
    const filler = b.alloc('i8', [2 ** 31 + 2 ** 20]);
    const K = 512;
    const N = 64;
    const w = encodeTernary(codes(N * K, 3), N, K, 'i2_s', Float32Array.of(0.25));
    const x = new Float32Array(K).map((_, i) => Math.sin(i * 0.37) * 3);
    const got = await accumulators(b, w, x, K);
    const ref = createReferenceBackend();
    expect(Array.from(got)).toEqual(Array.from(await accumulators(ref, w, x, K)));
    expect(b.memoryUsed).toBeGreaterThan(2 ** 31);
    b.dispose(filler);
    b.destroy();
  });

  it('a model that cannot fit is refused with BUDGET_EXCEEDED: by the reader before any tensor, or at upload', async () => {
    const bytes = buildDefaultModelBytes(buildDefaultTokenizerSpec());
    const small = await createWasmBackend({ threads: 1, maxMemoryBytes: 512 * 1024 });
    let err: unknown;
    try {
      await openModel(bytes, { memoryBudgetBytes: small.memoryAvailable });
    } catch (e) {
      err = e;
    }
    expect(TrineError.is(err, 'BUDGET_EXCEEDED')).toBe(true);
    expect(small.memoryUsed).toBe(0);

    // without the reader's check, the first upload over the limit refuses; nothing past it is allocated
    const source = await openModel(bytes);
    err = undefined;
    try {
      await BitNetModel.load(source, small, { slots: 1, context: 64 });
    } catch (e) {
      err = e;
    }
    await source.close();
    expect(TrineError.is(err, 'BUDGET_EXCEEDED')).toBe(true);
    expect((err as TrineError).message).toMatch(/wasm32 memory limit/);
    expect(small.memoryUsed).toBeLessThanOrEqual(512 * 1024);
    small.destroy();
  });
});
