import { accumulatorGroups, type QuantizedActs } from '@trine/core';
import { gone, type WasmContext } from '../context.js';
import type { WasmTensor, WasmTernary } from '../handles.js';
import { prepareActs, prepareLut } from './ternary-matmul-acc.js';

/** The BitLinear product: the accumulators and their float epilogue in one kernel, split over threads by rows. */
export function ternaryMatmul(c: WasmContext, out: WasmTensor, a: QuantizedActs<WasmTensor>, w: WasmTernary, rows: number): void {
  if (w.disposed) gone('ternaryMatmul.w');
  if (w.layout === 'lut16') {
    const [act, tables, tmp] = prepareLut(c, a, w, rows);
    const kernel = a.scheme === 'per_token' ? 'ternary_lut_per_token' : 'ternary_lut_per_block';
    const args = [out.ptr, w.ptr, act, tables, a.scales.ptr, w.scalesPtr, w.wGroups, w.Kp, w.rows, rows, c.scalar, tmp];
    c.exec.run(kernel, args, Math.ceil(w.rows / 16));
    return;
  }
  const G = accumulatorGroups(a.scheme, w.cols);
  const [act, a16, sums] = prepareActs(c, a, w, rows, G);
  const kernel = a.scheme === 'per_token' ? 'ternary_matmul_per_token' : 'ternary_matmul_per_block';
  c.exec.run(
    kernel,
    [out.ptr, w.ptr, act, a16, sums, a.scales.ptr, w.scalesPtr, w.wGroups, w.Kp, w.rows, rows, c.scalar],
    w.rows,
  );
}
