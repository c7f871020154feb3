import { TrineError, type QuantizedActs } from '@trine/core';
import { SCHEME, type CpuContext } from '../context.js';
import type { CpuTensor, CpuTernary } from '../handles.js';

export function ternaryMatmul(c: CpuContext, out: CpuTensor, a: QuantizedActs<CpuTensor>, w: CpuTernary, rows: number): void {
  matmul(c, out, a, w, rows, false);
}

/** The ternary product into f32 outputs, or (acc) the raw i32 accumulators. */
export function matmul(c: CpuContext, out: CpuTensor, a: QuantizedActs<CpuTensor>, w: CpuTernary, rows: number, acc: boolean): void {
  c.mine(w, 'w');
  if (a.scheme === 'per_token' && w.granularity === 'block256')
    throw new TrineError('UNSUPPORTED', 'ternaryMatmul: per_token cannot run block256-scaled weights', { field: 'a.scheme' });
  const run = (m: CpuTernary) =>
    c.native.ternaryMatmul(out.data as Float32Array | Int32Array, acc, SCHEME[a.scheme], a.q.data as Int8Array,
      a.scales.data as Float32Array, m.cols, m.packed, m.rows, m.scales, m.granularity === 'block256' ? 1 : 0, rows);
  // A shape's first batch-1 product times the candidate kernels on its matrices (same activations, same output).
  if (rows === 1) c.gemv.ensure(w, run);
  run(w);
}
