import type { GateActivation } from '@trine/core';
import type { WasmContext } from '../context.js';
import type { WasmTensor } from '../handles.js';

export function gatedActivation(c: WasmContext, out: WasmTensor, gate: WasmTensor, up: WasmTensor, act: GateActivation, rows: number): void {
  c.x.gated_activation(out.ptr, gate.ptr, up.ptr, act === 'relu2' ? 0 : 1, rows * out.rowElems);
}
