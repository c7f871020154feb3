/** Each reference kernel against values computed by hand from its definition in kernels/spec.ts. */
import { describe, expect, it } from 'vitest';
import type { QuantizedActs } from '../kernels/spec.js';
import { f32ToF16, roundF16 } from '../quant/f16.js';
import { createReferenceBackend } from './backend.js';
import { RefBatch, RefKvCache, RefTensor } from './storage.js';

const be = createReferenceBackend();
const f32 = (shape: number[], v: number[]) => new RefTensor('f32', shape, Float32Array.from(v));
const fr = Math.fround;

function acts(scheme: 'per_token' | 'per_block256', rows: number, K: number): QuantizedActs<RefTensor> {
  return {
    scheme,
    q: RefTensor.zeros('i8', [rows, K]),
    scales: RefTensor.zeros('f32', [rows, scheme === 'per_token' ? 1 : K / 256]),
  };
}
function codesTernary(rows: number, cols: number, codes: number[], scales: number[], granularity: 'tensor' | 'block256' = 'tensor') {
  return be.uploadTernary({
    name: 't',
    rows,
    cols,
    format: 'codes',
    data: new Uint8Array(Int8Array.from(codes).buffer),
    granularity,
    scales: Float32Array.from(scales),
  });
}

describe('quantizeActs per_token', () => {
  it('scales by 127/max|x| and rounds half to even', () => {
    const a = acts('per_token', 2, 5);
    be.quantizeActs(a, f32([2, 5], [127, 0.5, 1.5, 2.5, -0.5, 1, -0.5, 0.25, 0, -1]), 2);
    expect([...a.q.data]).toEqual([127, 0, 2, 2, 0, 127, -64, 32, 0, -127]);
    expect([...a.scales.data]).toEqual([1, 127]);
  });
  it('floors max|x| at 1e-5 (tiny and all-zero rows)', () => {
    const a = acts('per_token', 2, 2);
    be.quantizeActs(a, f32([2, 2], [1e-6, -2e-6, 0, 0]), 2);
    const s = fr(127 / 1e-5);
    expect(a.scales.data[0]).toBe(s);
    expect([...a.q.data]).toEqual([Math.round(fr(fr(1e-6) * s)), -Math.round(-fr(fr(-2e-6) * s)), 0, 0]);
    expect([...a.q.data.slice(0, 2)]).toEqual([13, -25]);
  });
  it('only rows < rows are touched', () => {
    const a = acts('per_token', 2, 2);
    (a.q.data as Int8Array).fill(7);
    be.quantizeActs(a, f32([2, 2], [1, 2, 3, 4]), 1);
    expect([...a.q.data]).toEqual([64, 127, 7, 7]);
  });
});

describe('quantizeActs per_block256', () => {
  it('takes the first element of largest magnitude with its sign; min(127) is the only clamp', () => {
    const x = new Float32Array(512);
    x[0] = -2;
    x[1] = 1;
    x[2] = 2; // same magnitude, later: m stays −2
    x[256] = 4; // second block: positive m maps to −127, −m to +127
    x[257] = -4;
    x[258] = 1;
    const a = acts('per_block256', 1, 512);
    be.quantizeActs(a, f32([1, 512], [...x]), 1);
    const q = a.q.data as Int8Array;
    expect([q[0], q[1], q[2], q[3]]).toEqual([-127, 64, 127, 0]); // iscale 63.5: 63.5 → 64 (even)
    expect([q[256], q[257], q[258]]).toEqual([-127, 127, -32]); // iscale −31.75: −31.75 → −32
    expect(a.scales.data[0]).toBe(fr(1 / fr(-127 / -2)));
    expect(a.scales.data[1]).toBe(fr(1 / fr(-127 / 4)));
  });
  it('an all-zero block gets d = 0 and q = 0', () => {
    const a = acts('per_block256', 1, 256);
    (a.q.data as Int8Array).fill(5);
    be.quantizeActs(a, f32([1, 256], new Array(256).fill(0)), 1);
    expect(a.scales.data[0]).toBe(0);
    expect((a.q.data as Int8Array).every((v) => v === 0)).toBe(true);
  });
});

describe('ternaryMatmulAcc / ternaryMatmul', () => {
  it('per_token: exact accumulators and y = f32(f32(acc/s)·w_scale)', () => {
    const w = codesTernary(2, 4, [1, -1, 0, 1, 0, 0, -1, 1], [0.5]);
    const a = acts('per_token', 1, 4);
    (a.q.data as Int8Array).set([10, -20, 30, 127]);
    (a.scales.data as Float32Array)[0] = 3;
    const acc = RefTensor.zeros('i32', [1, 2, 1]);
    be.ternaryMatmulAcc(acc, a, w, 1);
    expect([...acc.data]).toEqual([157, 97]);
    const y = RefTensor.zeros('f32', [1, 2]);
    be.ternaryMatmul(y, a, w, 1);
    expect([...y.data]).toEqual([fr(fr(157 / 3) * 0.5), fr(fr(97 / 3) * 0.5)]);
  });
  it('per_block256: one accumulator per 256 columns, y = Σ_g f32(acc_g·f32(d_w·d_a)) in block order', () => {
    const K = 512;
    const codes = new Array(K).fill(0).map((_, k) => (k % 3) - 1);
    const w = codesTernary(1, K, codes, [0.25, 0.125], 'block256');
    const a = acts('per_block256', 1, K);
    const q = a.q.data as Int8Array;
    for (let k = 0; k < K; k++) q[k] = ((k * 7) % 255) - 127;
    (a.scales.data as Float32Array).set([0.1, -0.3]);
    const acc = RefTensor.zeros('i32', [1, 1, 2]);
    be.ternaryMatmulAcc(acc, a, w, 1);
    let g0 = 0;
    let g1 = 0;
    for (let k = 0; k < 256; k++) g0 += codes[k]! * q[k]!;
    for (let k = 256; k < 512; k++) g1 += codes[k]! * q[k]!;
    expect([...acc.data]).toEqual([g0, g1]);
    const y = RefTensor.zeros('f32', [1, 1]);
    be.ternaryMatmul(y, a, w, 1);
    const want = fr(fr(g0 * fr(0.25 * fr(0.1))) + fr(g1 * fr(0.125 * fr(-0.3))));
    expect(y.data[0]).toBe(want);
  });
  it('per_block256 with a per-tensor weight scale uses that scale for every block', () => {
    const w = codesTernary(1, 256, new Array(256).fill(1), [2]);
    const a = acts('per_block256', 1, 256);
    (a.q.data as Int8Array).fill(-128);
    (a.scales.data as Float32Array)[0] = 0.5;
    const y = RefTensor.zeros('f32', [1, 1]);
    be.ternaryMatmul(y, a, w, 1);
    expect(y.data[0]).toBe(-128 * 256);
  });
});

describe('rmsNorm, add, gatedActivation', () => {
  it('rmsNorm: x / sqrt(mean(x²)+eps) · w, in place allowed', () => {
    const x = f32([2, 2], [3, 4, 0, 0]);
    be.rmsNorm(x, x, f32([2], [1, 2]), 0, 1);
    const s = fr(1 / fr(Math.sqrt(12.5)));
    expect([...x.data]).toEqual([fr(3 * s), fr(fr(4 * s) * 2), 0, 0]);
    expect(x.data[1]).toBeCloseTo(8 / Math.sqrt(12.5), 6);
    // eps keeps an all-zero row finite
    const z = f32([1, 2], [0, 0]);
    be.rmsNorm(z, z, f32([2], [1, 1]), 1e-5, 1);
    expect([...z.data]).toEqual([0, 0]);
  });
  it('add rounds to f32 and honours rows', () => {
    const out = f32([2, 2], [9, 9, 9, 9]);
    be.add(out, f32([2, 2], [0.1, 1, 5, 5]), f32([2, 2], [0.2, -1, 5, 5]), 1);
    expect([...out.data]).toEqual([fr(fr(0.1) + fr(0.2)), 0, 9, 9]);
  });
  it('relu2 and silu', () => {
    const out = RefTensor.zeros('f32', [1, 3]);
    be.gatedActivation(out, f32([1, 3], [-1, 2, 0.5]), f32([1, 3], [5, 3, 2]), 'relu2', 1);
    expect([...out.data]).toEqual([0, 12, 0.5]);
    be.gatedActivation(out, f32([1, 3], [0, 1, -30]), f32([1, 3], [5, 3, 1]), 'silu', 1);
    expect(out.data[0]).toBe(0);
    expect(out.data[1]).toBeCloseTo(3 / (1 + Math.exp(-1)), 6);
    expect(out.data[2]).toBeCloseTo(-30 / (1 + Math.exp(30)), 15);
  });
});

describe('rope', () => {
  const p = { ropeDim: 4, headDim: 4, theta: 10000 };
  it('position 0 is the identity; NEOX pairs i with i + ropeDim/2', () => {
    const x = f32([2, 1, 4], [1, 2, 3, 4, 1, 0, 0, 1]);
    be.rope(x, 1, new RefBatch(Int32Array.from([0, 1]), Int32Array.from([0, 0])), p);
    expect([...x.data.slice(0, 4)]).toEqual([1, 2, 3, 4]);
    // pair (0,2) turns by 1 rad, pair (1,3) by 10000^(-2/4) = 0.01 rad
    const [a, b] = [1, fr(fr(Math.pow(10000, -0.5)))];
    const got = [...x.data.slice(4)];
    expect(got[0]).toBeCloseTo(Math.cos(a), 6);
    expect(got[2]).toBeCloseTo(Math.sin(a), 6);
    expect(got[1]).toBeCloseTo(-Math.sin(b), 6);
    expect(got[3]).toBeCloseTo(Math.cos(b), 6);
  });
  it('partial rotation leaves dimensions ≥ ropeDim alone; every head turns the same', () => {
    const x = f32([1, 2, 4], [1, 0, 7, 8, 1, 0, 7, 8]);
    be.rope(x, 2, new RefBatch(Int32Array.from([3]), Int32Array.from([0])), { ropeDim: 2, headDim: 4, theta: 10 });
    expect(x.data[0]).toBeCloseTo(Math.cos(3), 6);
    expect(x.data[1]).toBeCloseTo(Math.sin(3), 6);
    expect([x.data[2], x.data[3]]).toEqual([7, 8]);
    expect([...x.data.slice(4)]).toEqual([...x.data.slice(0, 4)]);
  });
});

describe('kvStore and attention', () => {
  const spec = (dtype: 'f16' | 'f32') => ({ layers: 1, slots: 2, context: 4, kvHeads: 1, headDim: 2, dtype });
  it('an f16 cache stores half-rounded values at (slot, position)', () => {
    const c = be.createKvCache(spec('f16'));
    be.kvStore(c, 0, f32([1, 2], [0.1, 3]), f32([1, 2], [-0.2, 1e5]), new RefBatch(Int32Array.from([2]), Int32Array.from([1])));
    const o = c.offset(1, 2);
    expect([c.k[0]![o], c.k[0]![o + 1]]).toEqual([roundF16(0.1), 3]);
    expect([c.v[0]![o], c.v[0]![o + 1]]).toEqual([roundF16(-0.2), Infinity]);
    expect(c.k[0]!.filter((v) => v !== 0).length).toBe(2);
  });
  it('softmax weights: scores [0, ln 3] give probabilities [1/4, 3/4]', () => {
    const c = be.createKvCache(spec('f32'));
    const b = new RefBatch(Int32Array.from([0, 1]), Int32Array.from([0, 0]));
    be.kvStore(c, 0, f32([2, 2], [0, 0, Math.log(3), 0]), f32([2, 2], [4, 0, 0, 8]), b);
    const out = RefTensor.zeros('f32', [2, 2]);
    be.attention(out, f32([2, 1, 2], [1, 0, 1, 0]), c, 0, b, { heads: 1, kvHeads: 1, headDim: 2, scale: 1, roundProbsF16: false });
    // token 0 sees only itself (causal); token 1 mixes both
    expect([...out.data.slice(0, 2)]).toEqual([4, 0]);
    expect(out.data[2]).toBeCloseTo(1, 6);
    expect(out.data[3]).toBeCloseTo(6, 5);
  });
  it('roundProbsF16 rounds the probabilities; an f16 cache rounds q', () => {
    const c = be.createKvCache(spec('f16'));
    const b = new RefBatch(Int32Array.from([0, 1]), Int32Array.from([0, 0]));
    be.kvStore(c, 0, f32([2, 2], [0, 0, 1, 0]), f32([2, 2], [1, 0, 0, 1]), b);
    const q = 0.7; // e^0.7 ≈ 2.01: probabilities 1/(1+e^q) and e^q/(1+e^q)
    const run = (round: boolean) => {
      const out = RefTensor.zeros('f32', [2, 2]);
      be.attention(out, f32([2, 1, 2], [0, 0, q, 0]), c, 0, b, { heads: 1, kvHeads: 1, headDim: 2, scale: 1, roundProbsF16: round });
      return [out.data[2]!, out.data[3]!];
    };
    const qh = roundF16(q);
    const p1 = fr(1 / (1 + Math.exp(-qh)));
    const p0 = fr(1 / (1 + Math.exp(qh)));
    const [a0, a1] = run(false);
    expect(a0).toBeCloseTo(p0, 6);
    expect(a1).toBeCloseTo(p1, 6);
    const [r0, r1] = run(true);
    expect(r0).toBeCloseTo(roundF16(p0), 7);
    expect(r1).toBeCloseTo(roundF16(p1), 7);
    expect(r0).not.toBe(a0);
  });
  it('GQA: query head h reads KV head floor(h / (H/Hkv)); slots are separate', () => {
    const c = be.createKvCache({ layers: 2, slots: 2, context: 2, kvHeads: 2, headDim: 1, dtype: 'f32' });
    be.kvStore(c, 1, f32([1, 2], [0, 0]), f32([1, 2], [10, 20]), new RefBatch(Int32Array.from([0]), Int32Array.from([1])));
    be.kvStore(c, 1, f32([1, 2], [0, 0]), f32([1, 2], [-1, -2]), new RefBatch(Int32Array.from([0]), Int32Array.from([0])));
    const out = RefTensor.zeros('f32', [1, 4]);
    be.attention(out, f32([1, 4, 1], [1, 1, 1, 1]), c, 1, new RefBatch(Int32Array.from([0]), Int32Array.from([1])), {
      heads: 4,
      kvHeads: 2,
      headDim: 1,
      scale: 1,
      roundProbsF16: false,
    });
    expect([...out.data]).toEqual([10, 10, 20, 20]);
  });
});

describe('embedding, lmHead, argmax', () => {
  const rows = [1, 2, 3, 4, 0, -1];
  it('embedding from f16, f32 and q8 tables', () => {
    const h16 = be.uploadMatrix({ dtype: 'f16', shape: [3, 2], data: Uint16Array.from([0.1, 2, 3, 4, 0, -1].map(f32ToF16)) }, 'f16');
    const out = RefTensor.zeros('f32', [2, 2]);
    be.embedding(out, h16, Int32Array.from([0, 2]));
    expect([...out.data]).toEqual([roundF16(0.1), 2, 0, -1]);
    const m32 = be.uploadMatrix({ dtype: 'f32', shape: [3, 2], data: Float32Array.from(rows) }, 'f32');
    be.embedding(out, m32, Int32Array.from([1]));
    expect([...out.data.slice(0, 2)]).toEqual([3, 4]);
    const q8 = be.uploadMatrix({ dtype: 'f32', shape: [3, 2], data: Float32Array.from([1, -0.5, 3, 4, 0, 0]) }, 'q8');
    expect([...q8.q8!.q]).toEqual([127, -64, 95, 127, 0, 0]); // −63.5 → −64; 3·127/4 = 95.25 → 95
    expect([...q8.q8!.scales]).toEqual([fr(1 / 127), fr(4 / 127), 0]);
    be.embedding(out, q8, Int32Array.from([0]));
    expect([...out.data.slice(0, 2)]).toEqual([fr(127 * fr(1 / 127)), fr(-64 * fr(1 / 127))]);
  });
  it('lmHead: matrix · x[select[i]], with x rounded to f16 for f16 and q8 matrices', () => {
    const x = f32([2, 2], [0.5, 0.25, 0.1, 1]);
    const out = RefTensor.zeros('f32', [2, 3]);
    const m32 = be.uploadMatrix({ dtype: 'f32', shape: [3, 2], data: Float32Array.from(rows) }, 'f32');
    be.lmHead(out, x, m32, Int32Array.from([0, 1]));
    expect([...out.data]).toEqual([1, 2.5, -0.25, fr(fr(0.1) + 2), fr(fr(0.3) + 4), -1]);
    const m16 = be.uploadMatrix({ dtype: 'f16', shape: [3, 2], data: Uint16Array.from(rows.map(f32ToF16)) }, 'f16');
    be.lmHead(out, x, m16, Int32Array.from([1]));
    expect([...out.data.slice(0, 3)]).toEqual([fr(roundF16(0.1) + 2), fr(3 * roundF16(0.1) + 4), -1]);
    const q8 = be.uploadMatrix({ dtype: 'f32', shape: [3, 2], data: Float32Array.from(rows) }, 'q8');
    be.lmHead(out, x, q8, Int32Array.from([1]));
    const s0 = fr(2 / 127);
    expect(out.data[0]).toBe(fr((64 * roundF16(0.1) + 127) * s0));
  });
  it('argmax returns the first maximum of each row', () => {
    const out = RefTensor.zeros('i32', [3]);
    be.argmax(out, f32([3, 3], [1, 5, 5, -3, -2, -9, NaN, 0, 0]), 3);
    expect([...out.data]).toEqual([1, 1, 1]);
  });
});

describe('storage', () => {
  it('read copies the first rows; upload copies the host data', async () => {
    const host = { dtype: 'i32' as const, shape: [3, 2], data: Int32Array.from([1, 2, 3, 4, 5, 6]) };
    const t = be.upload(host);
    host.data[0] = 99;
    const r = await be.read(t, 2);
    expect(r.shape).toEqual([2, 2]);
    expect([...r.data]).toEqual([1, 2, 3, 4]);
  });
  it('KV cache offsets are (slot · context + position) · kvHeads · headDim', () => {
    const c = new RefKvCache({ layers: 1, slots: 3, context: 5, kvHeads: 2, headDim: 4, dtype: 'f32' });
    expect(c.offset(2, 3)).toBe((2 * 5 + 3) * 8);
  });
});
