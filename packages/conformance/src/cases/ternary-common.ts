import { accumulatorGroups, type ActQuantScheme, type ScaleGranularity, type TernaryFormat } from '@trine/core';
import { memoInputs, type Uploads } from '../harness.js';
import { Prng } from '../prng.js';
import { randomCodes, ternaryTensor } from '../ternary.js';

/** Shared inputs of the ternaryMatmul and ternaryMatmulAcc cases. */
export interface TernaryShape {
  scheme: ActQuantScheme;
  format: TernaryFormat;
  granularity?: ScaleGranularity;
  /** Rows computed, and the row capacity of the tensors. */
  rows: number;
  cap: number;
  K: number;
  N: number;
  /** `extremes`: activation rows of all 127, all −128, alternating, zero; weight rows all +1, all −1, all 0. */
  pattern: 'random' | 'extremes';
  seed: number;
}

export function ternaryShapeName(s: TernaryShape): string {
  const g = s.granularity && s.granularity !== (s.format === 'i2_s' ? 'tensor' : 'block256') ? `.${s.granularity}` : '';
  const p = s.pattern === 'extremes' ? '.extremes' : '';
  return `${s.scheme}/${s.format}${g}/n${s.rows}.K${s.K}.N${s.N}${p}`;
}

function codes(rng: Prng, s: TernaryShape): Int8Array {
  const c = randomCodes(rng, s.N, s.K);
  if (s.pattern === 'extremes') {
    // Rows 0..2: all +1, all −1, all 0 (the largest sums an int16 pairwise product path could saturate on).
    for (let n = 0; n < Math.min(3, s.N); n++) c.fill([1, -1, 0][n]!, n * s.K, (n + 1) * s.K);
  }
  return c;
}

function acts(rng: Prng, s: TernaryShape): Int8Array {
  const q = new Int8Array(s.cap * s.K);
  for (let i = 0; i < q.length; i++) q[i] = rng.int(-128, 127);
  if (s.pattern === 'extremes') {
    const rowFill = [(k: number) => 127, (k: number) => -128, (k: number) => (k % 2 ? 127 : -128), () => 0];
    for (let r = 0; r < Math.min(rowFill.length, s.rows); r++)
      for (let k = 0; k < s.K; k++) q[r * s.K + k] = rowFill[r]!(k);
  }
  return q;
}

/** Activation scales as quantizeActs produces them: per_token 127/max|x| > 0; per_block256 d of either sign, or 0. */
function actScales(rng: Prng, s: TernaryShape): Float32Array {
  const G = accumulatorGroups(s.scheme, s.K);
  const out = new Float32Array(s.cap * G);
  for (let i = 0; i < out.length; i++) {
    out[i] = s.scheme === 'per_token' ? rng.uniform(0.5, 300) : rng.float() < 0.1 ? 0 : rng.uniform(-0.03, 0.03);
  }
  return out;
}

/** Upload pre-quantized activations (so the matmul cases do not depend on the backend's quantizeActs) and W. */
export function ternaryInputs(u: Uploads, s: TernaryShape) {
  const host = memoInputs(`ternary${s.seed}`, () => {
    const rng = new Prng(s.seed);
    const t = ternaryTensor(rng, 'w', codes(rng, s), s.N, s.K, s.format, s.granularity);
    return { t, q: acts(rng, s), scales: actScales(rng, s) };
  });
  // A fresh copy of the packed bytes: the caller of uploadTernary may drop (or a backend reuse) them.
  const w = u.ternary({ ...host.t, data: host.t.data.slice(), scales: host.t.scales.slice() });
  const q = u.tensor('i8', [s.cap, s.K], host.q);
  const scales = u.tensor('f32', [s.cap, accumulatorGroups(s.scheme, s.K)], host.scales);
  return { w, a: { scheme: s.scheme, q, scales } };
}

export function ternarySize(s: TernaryShape): 'small' | 'large' {
  return s.K * s.N > 2_000_000 ? 'large' : 'small';
}

/** The shapes both ternary ops run: odd N, K not a multiple of 128 where the format allows, real 2B4T shapes. */
export const TERNARY_SHAPES: TernaryShape[] = [
  { scheme: 'per_token', format: 'codes', granularity: 'tensor', rows: 1, cap: 1, K: 1001, N: 33, pattern: 'random', seed: 501 },
  { scheme: 'per_token', format: 'codes', granularity: 'tensor', rows: 3, cap: 4, K: 333, N: 7, pattern: 'extremes', seed: 502 },
  { scheme: 'per_token', format: 'i2_s', rows: 3, cap: 5, K: 640, N: 37, pattern: 'random', seed: 503 },
  { scheme: 'per_token', format: 'i2_s', rows: 4, cap: 4, K: 2560, N: 5, pattern: 'extremes', seed: 504 },
  { scheme: 'per_block256', format: 'tq2_0', rows: 2, cap: 3, K: 512, N: 31, pattern: 'random', seed: 505 },
  { scheme: 'per_block256', format: 'tq1_0', rows: 3, cap: 3, K: 768, N: 17, pattern: 'random', seed: 506 },
  { scheme: 'per_block256', format: 'codes', granularity: 'block256', rows: 1, cap: 2, K: 256, N: 9, pattern: 'random', seed: 507 },
  { scheme: 'per_block256', format: 'tq2_0', rows: 4, cap: 4, K: 6912, N: 3, pattern: 'extremes', seed: 508 },
  // per_block256 activations against a per-tensor-scaled I2_S matrix: K/256 groups, one weight scale.
  { scheme: 'per_block256', format: 'i2_s', rows: 2, cap: 2, K: 1024, N: 13, pattern: 'random', seed: 509 },
];

/** Real shapes (2B4T ffn_up, ffn_down, attn_k), one row each: few, because the reference runs them in scalar JS. */
export const TERNARY_REAL_SHAPES: TernaryShape[] = [
  { scheme: 'per_token', format: 'i2_s', rows: 1, cap: 1, K: 2560, N: 6912, pattern: 'random', seed: 511 },
  { scheme: 'per_block256', format: 'tq2_0', rows: 1, cap: 1, K: 6912, N: 2560, pattern: 'random', seed: 512 },
  { scheme: 'per_block256', format: 'tq1_0', rows: 2, cap: 2, K: 2560, N: 640, pattern: 'random', seed: 513 },
];
