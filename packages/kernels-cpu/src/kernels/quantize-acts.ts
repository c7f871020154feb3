import type { QuantizedActs } from '@trine/core';
import { SCHEME, type CpuContext } from '../context.js';
import { rowWidth, type CpuTensor } from '../handles.js';

export function quantizeActs(c: CpuContext, out: QuantizedActs<CpuTensor>, x: CpuTensor, rows: number): void {
  c.native.quantize(SCHEME[out.scheme], x.data as Float32Array, rows, rowWidth(x), out.q.data as Int8Array,
    out.scales.data as Float32Array);
}
