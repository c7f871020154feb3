import { f32ToF16 } from '@trine/core';
import { Prng } from './prng.js';

/** Normal values with standard deviation `std`, as f32. */
export function normalF32(rng: Prng, n: number, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return out;
}

export function uniformF32(rng: Prng, n: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.uniform(lo, hi);
  return out;
}

export function toF16(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f32ToF16(x[i]!);
  return out;
}

/**
 * Rows of activations that stress quantization. Each kind targets one edge:
 * - `normal`: N(0, 1) with a few heavy tails.
 * - `zero`: all zeros (per_token scale floor, per_block256 d = 0).
 * - `halves`: max |x| = 127 exactly so the per_token scale is 1 and every x·s is k + 0.5: round-half-even decides.
 * - `halvesNeg`: the same with the largest-magnitude element negative (per_block256: iscale = +1, q = x).
 * - `tiny`: |x| ≤ 1e-7, below the 1e-5 floor of the per_token max.
 * - `outlier`: small values and one 1e4 spike.
 * - `extreme`: values up to ±1e30 (scale far from 1, no overflow allowed).
 */
export type RowKind = 'normal' | 'zero' | 'halves' | 'halvesNeg' | 'tiny' | 'outlier' | 'extreme';

export function activationRow(rng: Prng, kind: RowKind, k: number): Float32Array {
  const row = new Float32Array(k);
  switch (kind) {
    case 'normal':
      for (let i = 0; i < k; i++) row[i] = rng.normal() * (rng.float() < 0.02 ? 8 : 1);
      break;
    case 'zero':
      break;
    case 'halves':
    case 'halvesNeg': {
      // k + 0.5 for k in [-127, 126], exact in f32; one element pins max |x| at 127.
      for (let i = 0; i < k; i++) row[i] = rng.int(-127, 126) + 0.5;
      const at = rng.int(0, k - 1);
      row[at] = kind === 'halves' ? 127 : -127;
      // Every 256-block needs its own ±127 so per_block256 sees iscale = ∓1 in each block.
      for (let b = 0; b + 256 <= k; b += 256) row[b + rng.int(0, 255)] = kind === 'halves' ? 127 : -127;
      break;
    }
    case 'tiny':
      for (let i = 0; i < k; i++) row[i] = rng.uniform(-1e-7, 1e-7);
      break;
    case 'outlier':
      for (let i = 0; i < k; i++) row[i] = rng.normal() * 0.01;
      row[rng.int(0, k - 1)] = 1e4;
      break;
    case 'extreme':
      for (let i = 0; i < k; i++) row[i] = rng.uniform(-1e30, 1e30);
      break;
  }
  return row;
}

/** rows × k activations, row r of the kind kinds[r % kinds.length]. */
export function activations(rng: Prng, rows: number, k: number, kinds: readonly RowKind[] = ['normal']): Float32Array {
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) out.set(activationRow(rng, kinds[r % kinds.length]!, k), r * k);
  return out;
}

/** Random int8 activations in [-128, 127] with some rows pinned at the extremes. */
export function int8Acts(rng: Prng, rows: number, k: number): Int8Array {
  const out = new Int8Array(rows * k);
  for (let i = 0; i < out.length; i++) out[i] = rng.int(-128, 127);
  return out;
}

/** Fill a tensor's capacity rows beyond `rows` with a sentinel, so writes past `rows` show up as mismatches. */
export function withSentinelRows(data: Float32Array, rows: number, rowLength: number, sentinel = 7.25): Float32Array {
  data.fill(sentinel, rows * rowLength);
  return data;
}
