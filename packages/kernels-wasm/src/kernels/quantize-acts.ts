import type { QuantizedActs } from '@trine/core';
import type { WasmContext } from '../context.js';
import type { WasmTensor } from '../handles.js';

/** Bumps the int8 tensor's version, so lookup tables built from its old contents are rebuilt. */
export function quantizeActs(c: WasmContext, out: QuantizedActs<WasmTensor>, x: WasmTensor, rows: number): void {
  const K = out.q.rowElems;
  const f = out.scheme === 'per_token' ? c.x.quantize_per_token : c.x.quantize_per_block256;
  f(out.q.ptr, out.scales.ptr, x.ptr, K, rows, c.scalar);
  out.q.version++;
}
