import { describe, expect, it } from 'vitest';
import { TrineError } from '../errors/index.js';
import { createReferenceBackend } from '../reference/backend.js';
import type { QuantizedActs, TensorDesc } from './spec.js';
import { checked } from './validate.js';

const be = checked(createReferenceBackend());

function expectInvalid(fn: () => unknown, field: string, msg?: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(TrineError.is(e, 'INVALID_ARGUMENT'), String(e)).toBe(true);
    expect((e as TrineError).field).toBe(field);
    if (msg) expect((e as Error).message).toMatch(msg);
    return;
  }
  throw new Error(`expected INVALID_ARGUMENT on ${field}`);
}

describe('checked(backend)', () => {
  const x = be.alloc('f32', [4, 8]);
  const w = be.upload({ dtype: 'f32', shape: [8], data: new Float32Array(8).fill(1) });
  it('passes valid calls through', async () => {
    be.rmsNorm(x, x, w, 1e-5, 4);
    expect((await be.read(x, 2)).shape).toEqual([2, 8]);
  });
  it('names the op and argument of a bad call', () => {
    expectInvalid(() => be.rmsNorm(x, x, w, 1e-5, 5), 'rmsNorm.x', /rmsNorm: x holds 4 rows/);
    expectInvalid(() => be.rmsNorm(x, x, be.alloc('f32', [7]), 1e-5, 1), 'rmsNorm.x', /8/);
    expectInvalid(() => be.rmsNorm(x, x, w, -1, 1), 'rmsNorm.eps');
    expectInvalid(() => be.rmsNorm(x, x, w, 1e-5, 1.5), 'rmsNorm.rows');
    expectInvalid(() => be.add(x, x, be.alloc('i32', [4, 8]), 1), 'add.b', /f32/);
    expectInvalid(() => be.alloc('f64' as 'f32', [1]), 'alloc.dtype');
    expectInvalid(() => be.alloc('f32', [2 ** 20, 2 ** 12]), 'alloc.shape');
    expectInvalid(() => be.upload({ dtype: 'f32', shape: [3], data: new Float32Array(2) }), 'upload.host.data');
    expectInvalid(() => be.read(x, 9), 'read.rows');
  });
  it('checks quantized activations against the scheme and the ternary matrix', () => {
    const wt = be.uploadTernary({ name: 'w', rows: 2, cols: 256, format: 'codes', data: new Uint8Array(512), granularity: 'block256', scales: new Float32Array(2) });
    const a = (scheme: 'per_token' | 'per_block256', K: number, G: number): QuantizedActs<TensorDesc> => ({
      scheme,
      q: be.alloc('i8', [2, K]),
      scales: be.alloc('f32', [2, G]),
    });
    const out = be.alloc('f32', [2, 2]);
    be.ternaryMatmul(out, a('per_block256', 256, 1), wt, 2);
    expectInvalid(() => be.ternaryMatmul(out, a('per_token', 256, 1), wt, 2), 'ternaryMatmul.a.scheme');
    expectInvalid(() => be.ternaryMatmul(out, a('per_block256', 256, 2), wt, 2), 'ternaryMatmul.a.scales');
    expectInvalid(() => be.quantizeActs(a('per_block256', 128, 1), be.alloc('f32', [2, 128]), 1), 'quantizeActs.out.q', /multiple of 256/);
    expectInvalid(() => be.ternaryMatmulAcc(be.alloc('i32', [2, 3]), a('per_block256', 256, 1), wt, 2), 'ternaryMatmulAcc.out');
    be.ternaryMatmulAcc(be.alloc('i32', [2, 2, 1]), a('per_block256', 256, 1), wt, 2);
    expectInvalid(
      () => be.uploadTernary({ name: 'w', rows: 2, cols: 256, format: 'tq2_0', data: new Uint8Array(131), granularity: 'block256', scales: new Float32Array(2) }),
      'uploadTernary.data',
      /needs 132/,
    );
    expectInvalid(
      () => be.uploadTernary({ name: 'w', rows: 2, cols: 256, format: 'i2_s', data: new Uint8Array(128), granularity: 'tensor', scales: new Float32Array(2) }),
      'uploadTernary.scales',
    );
  });
  it('checks batches against the KV cache and index arrays against their tables', () => {
    const kv = be.createKvCache({ layers: 2, slots: 2, context: 4, kvHeads: 1, headDim: 8, dtype: 'f16' });
    const ok = be.prepareBatch(Int32Array.of(0, 1), Int32Array.of(1, 1));
    be.kvStore(kv, 1, x, x, ok);
    expectInvalid(() => be.kvStore(kv, 2, x, x, ok), 'kvStore.layer');
    expectInvalid(() => be.kvStore(kv, 0, x, x, be.prepareBatch(Int32Array.of(4), Int32Array.of(0))), 'kvStore.batch.positions[0]', /context/);
    expectInvalid(() => be.kvStore(kv, 0, x, x, be.prepareBatch(Int32Array.of(0), Int32Array.of(2))), 'kvStore.batch.slots[0]');
    expectInvalid(() => be.prepareBatch(Int32Array.of(0, 1), Int32Array.of(0)), 'prepareBatch.slots');
    const p = { heads: 2, kvHeads: 1, headDim: 8, scale: 0.3, roundProbsF16: false };
    const q = be.alloc('f32', [2, 2, 8]);
    be.attention(be.alloc('f32', [2, 16]), q, kv, 0, ok, p);
    expectInvalid(() => be.attention(be.alloc('f32', [2, 16]), q, kv, 0, ok, { ...p, heads: 3, kvHeads: 2 }), 'attention.p.heads');
    expectInvalid(() => be.attention(be.alloc('f32', [1, 16]), q, kv, 0, ok, p), 'attention.out');
    expectInvalid(() => be.rope(q, 2, ok, { ropeDim: 9, headDim: 8, theta: 1e4 }), 'rope.p.ropeDim');
    const m = be.uploadMatrix({ dtype: 'f32', shape: [5, 8], data: new Float32Array(40) }, 'f32');
    expectInvalid(() => be.embedding(x, m, Int32Array.of(0, 5)), 'embedding.ids[1]', /outside \[0, 5\)/);
    expectInvalid(() => be.lmHead(be.alloc('f32', [1, 5]), x, m, Int32Array.of(4)), 'lmHead.select[0]');
    expectInvalid(() => be.lmHead(be.alloc('f32', [1, 4]), x, m, Int32Array.of(0)), 'lmHead.out');
    expectInvalid(() => be.argmax(be.alloc('i32', [1]), x, 2), 'argmax.out');
  });
  it('throws UNSUPPORTED for a variant the backend refuses, and can be turned off', () => {
    const inner = createReferenceBackend();
    inner.supports = (v) => ('act' in v && v.act === 'silu' ? { ok: false, reason: 'no silu here' } : { ok: true });
    const c = checked(inner);
    const t = c.alloc('f32', [1, 4]);
    c.gatedActivation(t, t, t, 'relu2', 1);
    expect(() => c.gatedActivation(t, t, t, 'silu', 1)).toThrow(/no silu here/);
    c.enabled = false;
    c.gatedActivation(t, t, t, 'silu', 1); // unchecked: dispatched straight to the backend
    expect(checked(c)).toBe(c);
  });
});

describe('uploadTernary', () => {
  it('refuses codes outside {-1, 0, 1}', () => {
    const be = checked(createReferenceBackend());
    const t = { name: 'w', rows: 1, cols: 4, format: 'codes' as const, granularity: 'tensor' as const, scales: Float32Array.of(1) };
    be.uploadTernary({ ...t, data: new Uint8Array(Int8Array.of(-1, 0, 1, 1).buffer) });
    expectInvalid(() => be.uploadTernary({ ...t, data: Uint8Array.of(0, 2, 0, 0) }), 'uploadTernary.data[1]', /code 2/);
  });
});
