import { TrineError, encodeTernary, f16ToF32, type QuantizedActs } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { createCpuBackend, loadNative, physicalCores, type CpuBackend, type CpuTensor } from '../src/index.js';

// Direct checks of every code path against a plain scalar computation written here, on shapes the conformance
// kit does not stress: rows not a multiple of 16, columns padded to 256, token counts that hit every GEMM tail
// (1, 3, 9, 17), per_block256 groups, and results independent of the thread count.
const host = loadNative().hostInfo();
const variants = ['scalar', ...(host.avx2 ? ['avx2'] : []), ...(host.avx512vnni ? ['avx512'] : []),
  ...(host.built.includes('neon') ? ['neon'] : []), ...(host.neonDot ? ['dotprod'] : []), ...(host.best === 'i8mm' ? ['i8mm'] : [])];

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function codesOf(rows: number, cols: number, seed: number): Int8Array {
  const r = lcg(seed);
  return Int8Array.from({ length: rows * cols }, () => Math.floor(r() * 3) - 1);
}

function actsOf(be: CpuBackend, scheme: 'per_token' | 'per_block256', rows: number, k: number, seed: number) {
  const r = lcg(seed);
  const x = be.upload({ dtype: 'f32', shape: [rows, k], data: Float32Array.from({ length: rows * k }, () => (r() - 0.5) * 4) });
  const G = scheme === 'per_token' ? 1 : k / 256;
  const a: QuantizedActs<CpuTensor> = { scheme, q: be.alloc('i8', [rows, k]), scales: be.alloc('f32', [rows, G]) };
  be.quantizeActs(a, x, rows);
  return a;
}

/** Σ w·q per output row and group, the definition. */
function expectedAcc(codes: Int8Array, q: Int8Array, rows: number, n: number, k: number, groups: number): Int32Array {
  const out = new Int32Array(rows * n * groups);
  const per = k / groups;
  for (let t = 0; t < rows; t++)
    for (let o = 0; o < n; o++)
      for (let g = 0; g < groups; g++) {
        let s = 0;
        for (let c = g * per; c < (g + 1) * per; c++) s += codes[o * k + c]! * q[t * k + c]!;
        out[(t * n + o) * groups + g] = s;
      }
  return out;
}

describe.each(variants)('cpu %s', (variant) => {
  const shapes: [string, 'per_token' | 'per_block256', number, number][] = [
    ['i2_s', 'per_token', 37, 384],
    ['codes', 'per_token', 50, 200],
    ['tq2_0', 'per_block256', 21, 512],
    ['tq1_0', 'per_block256', 40, 768],
  ];
  for (const [format, scheme, n, k] of shapes) {
    it(`ternaryMatmulAcc ${format} ${n}x${k} is exact for 1, 3, 9 and 17 tokens`, () => {
      const be = createCpuBackend({ variant, threads: 2 });
      try {
        const codes = codesOf(n, k, n + k);
        const G = scheme === 'per_token' ? 1 : k / 256;
        const scales = G === 1 ? Float32Array.of(0.75) : new Float32Array((n * k) / 256).fill(0.5);
        const w = be.uploadTernary(encodeTernary(codes, n, k, format as 'i2_s', scales));
        for (const rows of [1, 3, 9, 17]) {
          const a = actsOf(be, scheme, rows, k, rows);
          const out = be.alloc('i32', [rows, n * G]);
          be.ternaryMatmulAcc(out, a, w, rows);
          expect(out.data).toEqual(expectedAcc(codes, a.q.data as Int8Array, rows, n, k, G));
        }
      } finally {
        be.destroy();
      }
    });
  }

  it('per_token quantization matches the rule bit for bit (scale in f32 from an f64 max, half-even rounding)', () => {
    const be = createCpuBackend({ variant, threads: 1 });
    try {
      const k = 300;
      const x = new Float32Array(k);
      for (let i = 0; i < k; i++) x[i] = Math.fround((i % 7) - 3 + 0.5 * (i % 2) + (i === 5 ? 20 : 0));
      const a: QuantizedActs<CpuTensor> = { scheme: 'per_token', q: be.alloc('i8', [1, k]), scales: be.alloc('f32', [1, 1]) };
      be.quantizeActs(a, be.upload({ dtype: 'f32', shape: [1, k], data: x }), 1);
      const max = Math.max(1e-5, ...Array.from(x, Math.abs));
      const s = Math.fround(127 / max);
      expect((a.scales.data as Float32Array)[0]).toBe(s);
      const rhe = (v: number) => {
        const r = Math.round(v);
        return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
      };
      expect(Array.from(a.q.data as Int8Array)).toEqual(Array.from(x, (v) => Math.max(-128, Math.min(127, rhe(Math.fround(v * s))))));
    } finally {
      be.destroy();
    }
  });
});

describe.each(variants)('cpu %s LM head', (variant) => {
  // 100 rows: whole 24-row blocks of the batched path and a remainder; 1300 columns: chunks of 640, 640 and 20 (the
  // last with a masked tail); 17 tokens: two 8-token tiles and one left over; 2 threads split the rows mid-block.
  const V = 100, D = 1300, N = 17;
  for (const format of ['f16', 'f32'] as const) {
    it(`${format}: each of ${N} batched tokens gets its logits bit for bit as alone, close to an f64 dot`, () => {
      const be = createCpuBackend({ variant, threads: 2 });
      try {
        const r = lcg(11);
        const h = Uint16Array.from({ length: V * D }, () => 0x2c00 + Math.floor(r() * 0x1000) + (r() < 0.5 ? 0x8000 : 0));
        const w = Float32Array.from(h, f16ToF32);
        const m = format === 'f16' ? be.uploadMatrix({ dtype: 'f16', shape: [V, D], data: h }, 'f16') : be.uploadMatrix({ dtype: 'f32', shape: [V, D], data: w }, 'f32');
        // Halves, so the f16 path's rounding of x to f16 (as llama.cpp does) leaves them unchanged.
        const xs = Float32Array.from({ length: N * D }, () => f16ToF32(0x3000 + Math.floor(r() * 0x800) + (r() < 0.5 ? 0x8000 : 0)));
        const x = be.upload({ dtype: 'f32', shape: [N, D], data: xs });
        // Tokens in a shuffled order, so a token's row in x and in the output differ.
        const select = Int32Array.from({ length: N }, (_, i) => (i * 5) % N);
        const batched = be.alloc('f32', [N, V]);
        be.lmHead(batched, x, m, select);
        const alone = be.alloc('f32', [1, V]);
        for (let t = 0; t < N; t++) {
          be.lmHead(alone, x, m, Int32Array.of(select[t]!));
          expect((batched.data as Float32Array).slice(t * V, (t + 1) * V)).toEqual(alone.data as Float32Array);
          const xt = xs.subarray(select[t]! * D, (select[t]! + 1) * D);
          for (let v = 0; v < V; v++) {
            let dot = 0, mag = 0;
            for (let d = 0; d < D; d++) {
              dot += w[v * D + d]! * xt[d]!;
              mag += Math.abs(w[v * D + d]! * xt[d]!);
            }
            expect(Math.abs((alone.data as Float32Array)[v]! - dot)).toBeLessThanOrEqual(mag * 2 ** -18);
          }
        }
      } finally {
        be.destroy();
      }
    });
  }
});

describe('threads', () => {
  it('give bit-identical ternary, LM-head and rmsNorm results for 1, 2 and 3 threads', () => {
    const n = 300, k = 512, v = 1000;
    const results: Float32Array[] = [];
    for (const threads of [1, 2, 3]) {
      const be = createCpuBackend({ threads });
      try {
        expect(be.info.threads).toBe(threads);
        const w = be.uploadTernary(encodeTernary(codesOf(n, k, 5), n, k, 'i2_s', Float32Array.of(0.3)));
        const a = actsOf(be, 'per_token', 5, k, 9);
        const y = be.alloc('f32', [5, n]);
        be.ternaryMatmul(y, a, w, 5);
        const r = lcg(3);
        const m = be.uploadMatrix({ dtype: 'f16', shape: [v, k], data: Uint16Array.from({ length: v * k }, () => 0x2c00 + Math.floor(r() * 0x1000)) }, 'f16');
        const x = be.upload({ dtype: 'f32', shape: [2, k], data: Float32Array.from({ length: 2 * k }, () => r() - 0.5) });
        const logits = be.alloc('f32', [2, v]);
        be.lmHead(logits, x, m, Int32Array.of(1, 0));
        // rmsNorm splits rows over the threads: every row must still come out the same.
        const normed = be.alloc('f32', [5, n]);
        be.rmsNorm(normed, y, be.upload({ dtype: 'f32', shape: [n], data: Float32Array.from({ length: n }, () => r() + 0.5) }), 1e-5, 5);
        results.push(Float32Array.of(...(y.data as Float32Array), ...(logits.data as Float32Array), ...(normed.data as Float32Array)));
      } finally {
        be.destroy();
      }
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });
});

describe('thread pool', () => {
  it('stays correct over thousands of back-to-back small ops with more threads than cores', () => {
    const n = 64, k = 256;
    const one = createCpuBackend({ threads: 1 });
    const many = createCpuBackend({ threads: 4 });
    try {
      const codes = codesOf(n, k, 11);
      const w1 = one.uploadTernary(encodeTernary(codes, n, k, 'codes', Float32Array.of(1)));
      const w4 = many.uploadTernary(encodeTernary(codes, n, k, 'codes', Float32Array.of(1)));
      const a1 = actsOf(one, 'per_token', 1, k, 4);
      const a4 = actsOf(many, 'per_token', 1, k, 4);
      const want = one.alloc('i32', [1, n]);
      one.ternaryMatmulAcc(want, a1, w1, 1);
      const got = many.alloc('i32', [1, n]);
      let mismatches = 0;
      for (let i = 0; i < 3000; i++) {
        (got.data as Int32Array).fill(0);
        many.ternaryMatmulAcc(got, a4, w4, 1);
        for (let j = 0; j < n; j++) if ((got.data as Int32Array)[j] !== (want.data as Int32Array)[j]) mismatches++;
      }
      expect(mismatches).toBe(0);
    } finally {
      one.destroy();
      many.destroy();
    }
  });
});

// Every batch-1 kernel a path offers (native/common.h GemvKernel), forced in turn: the measured choice may pick any.
const gemvCases = variants.flatMap((variant) => {
  const be = createCpuBackend({ variant, threads: 1 });
  const names = String(be.info.details?.gemvKernels ?? '').split(',').filter((k) => k !== '');
  be.destroy();
  return names.map((gemv) => [variant, gemv] as const);
});

describe.each(gemvCases)('cpu %s batch-1 kernel %s', (variant, gemv) => {
  const shapes: [string, 'per_token' | 'per_block256', number, number][] = [
    ['i2_s', 'per_token', 37, 384],
    ['i2_s', 'per_token', 300, 2560],
    ['tq2_0', 'per_block256', 21, 512],
    ['tq1_0', 'per_block256', 40, 768],
  ];
  for (const [format, scheme, n, k] of shapes)
    it(`ternaryMatmulAcc ${format} ${n}x${k}, one token, is exact (2 threads: rows split mid-matrix)`, () => {
      const be = createCpuBackend({ variant, gemv, threads: 2 });
      try {
        const codes = codesOf(n, k, n * 3 + k);
        const G = scheme === 'per_token' ? 1 : k / 256;
        const scales = G === 1 ? Float32Array.of(0.75) : new Float32Array((n * k) / 256).fill(0.5);
        const w = be.uploadTernary(encodeTernary(codes, n, k, format as 'i2_s', scales));
        const a = actsOf(be, scheme, 1, k, n);
        const out = be.alloc('i32', [1, n * G]);
        be.ternaryMatmulAcc(out, a, w, 1);
        expect(out.data).toEqual(expectedAcc(codes, a.q.data as Int8Array, 1, n, k, G));
        expect(be.gemvChoices()).toEqual([{ shape: `${n}x${k}`, kernel: gemv, why: 'forced' }]);
      } finally {
        be.destroy();
      }
    });
});

describe('batch-1 kernel choice', () => {
  it.runIf(gemvCases.length > 0)('times every candidate on the shape\'s own matrices and keeps the fastest', () => {
    const be = createCpuBackend({ threads: 1 });
    try {
      const [n, k] = [64, 512];
      const ws = [1, 2, 3].map((s) => be.uploadTernary(encodeTernary(codesOf(n, k, s), n, k, 'i2_s', Float32Array.of(1))));
      const a = actsOf(be, 'per_token', 1, k, 4);
      const y = be.alloc('f32', [1, n]);
      be.ternaryMatmul(y, a, ws[0]!, 1);
      const [choice, ...rest] = be.gemvChoices();
      expect(rest).toEqual([]);
      expect(choice).toMatchObject({ shape: `${n}x${k}`, why: 'measured', matrices: 3 });
      const us = choice!.microseconds!;
      const names = String(be.info.details?.gemvKernels).split(',');
      expect(Object.keys(us).sort()).toEqual([...names].sort());
      expect(us[choice!.kernel]).toBe(Math.min(...Object.values(us)));
      // A second batch-1 call of the same shape does not time again; a later backend with the same path and threads
      // in this process reuses the choice (the selection trial's backend, then the engine's).
      be.ternaryMatmul(y, a, ws[1]!, 1);
      expect(be.gemvChoices()).toEqual([choice]);
      const later = createCpuBackend({ threads: 1 });
      try {
        const w = later.uploadTernary(encodeTernary(codesOf(n, k, 9), n, k, 'i2_s', Float32Array.of(1)));
        const a2 = actsOf(later, 'per_token', 1, k, 5);
        later.ternaryMatmul(later.alloc('f32', [1, n]), a2, w, 1);
        expect(later.gemvChoices()).toEqual([{ ...choice, why: 'measured earlier' }]);
      } finally {
        later.destroy();
      }
    } finally {
      be.destroy();
    }
  });

  it('refuses a batch-1 kernel the path does not have, naming the field', () => {
    expect(() => createCpuBackend({ variant: 'scalar', gemv: 'zmm-linear2' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'gemv' }));
  });
});

describe('options and errors', () => {
  it('refuses an unknown or unrunnable code path with BACKEND_UNAVAILABLE', () => {
    const refused = ['bogus', ...(host.built.includes('neon') ? [] : ['neon']), ...(host.best === 'i8mm' ? [] : ['i8mm']),
      ...(host.avx512vnni ? [] : ['avx512'])];
    for (const variant of refused) {
      let err: unknown;
      try {
        createCpuBackend({ variant });
      } catch (e) {
        err = e;
      }
      expect(TrineError.is(err, 'BACKEND_UNAVAILABLE')).toBe(true);
      expect((err as TrineError).field).toBe('variant');
    }
  });

  it('reads TRINE_CPU_VARIANT but not TRINE_THREADS (the apps pass threads), and rejects bad thread counts naming the field', () => {
    const saved = { v: process.env.TRINE_CPU_VARIANT, t: process.env.TRINE_THREADS };
    try {
      process.env.TRINE_CPU_VARIANT = 'scalar';
      process.env.TRINE_THREADS = 'many';
      const be = createCpuBackend({ threads: 3 });
      expect([be.info.variant, be.info.threads]).toEqual(['scalar', 3]);
      be.destroy();
      const byCores = createCpuBackend();
      expect(byCores.info.threads).toBe(physicalCores());
      byCores.destroy();
      expect(() => createCpuBackend({ threads: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'threads' }));
    } finally {
      if (saved.v === undefined) delete process.env.TRINE_CPU_VARIANT;
      else process.env.TRINE_CPU_VARIANT = saved.v;
      if (saved.t === undefined) delete process.env.TRINE_THREADS;
      else process.env.TRINE_THREADS = saved.t;
    }
  });

  it('measures a positive read bandwidth and rejects bad probe sizes', () => {
    const be = createCpuBackend({ threads: 2 });
    try {
      const gbs = be.readBandwidth(64, 1);
      expect(Number.isFinite(gbs) && gbs > 0).toBe(true);
      expect(() => be.readBandwidth(0, 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'megabytes' }));
      expect(() => be.readBandwidth(64, 1.5)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'reps' }));
    } finally {
      be.destroy();
    }
  });

  it('rejects handles of another backend, short ternary data and use after destroy with TrineErrors', () => {
    const a = createCpuBackend({ threads: 1 });
    const b = createCpuBackend({ threads: 1 });
    const w = a.uploadTernary(encodeTernary(codesOf(16, 256, 1), 16, 256, 'i2_s', Float32Array.of(1)));
    const acts = actsOf(b, 'per_token', 1, 256, 1);
    expect(() => b.ternaryMatmul(b.alloc('f32', [1, 16]), acts, w, 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() =>
      a.uploadTernary({ name: 'blk.0.attn_q.weight', rows: 16, cols: 256, format: 'i2_s', data: new Uint8Array(100), granularity: 'tensor', scales: Float32Array.of(1) }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'uploadTernary.data' }));
    a.destroy();
    expect(() => a.ternaryMatmul(a.alloc('f32', [1, 16]), actsOf(a, 'per_token', 1, 256, 2), w, 1)).toThrow(TrineError);
    b.destroy();
  });
});
