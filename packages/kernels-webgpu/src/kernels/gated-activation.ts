import type { GateActivation } from '@trine/core';
import type { GpuTensor } from '../handles.js';
import { elementwise, type KernelContext } from '../kernel-context.js';

/** out = act(gate) · up (act relu² or silu); in place when out is gate. */
export function gatedActivation(g: KernelContext, out: GpuTensor, gate: GpuTensor, up: GpuTensor, act: GateActivation, rows: number): void {
  const count = rows * out.rowSize;
  if (count === 0) return;
  const RELU2 = act === 'relu2';
  if (out.buffer === gate.buffer) elementwise(g, g.programs.get('gated_activation', ['r', 'rw'], { IN_PLACE: true, RELU2 }), [up.buffer, out.buffer], count);
  else elementwise(g, g.programs.get('gated_activation', ['r', 'r', 'rw'], { RELU2 }), [gate.buffer, up.buffer, out.buffer], count);
}
