import type { GateActivation } from '@trine/core';
import type { CpuContext } from '../context.js';
import { rowWidth, type CpuTensor } from '../handles.js';

export function gatedActivation(c: CpuContext, out: CpuTensor, gate: CpuTensor, up: CpuTensor, act: GateActivation, rows: number): void {
  c.native.gated(out.data as Float32Array, gate.data as Float32Array, up.data as Float32Array, act === 'relu2' ? 0 : 1,
    rows * rowWidth(out));
}
