import type { GateActivation } from '../../kernels/spec.js';
import type { RefTensor } from '../storage.js';

const fr = Math.fround;

/** out = act(gate) · up in f32; relu2: f32(max(g,0)²), silu: f32(g / f32(1 + f32(exp(−g)))). out may alias gate. */
export function gatedActivation(out: RefTensor, gate: RefTensor, up: RefTensor, act: GateActivation, rows: number): void {
  const n = rows * out.rowSize;
  const o = out.data as Float32Array;
  const g = gate.data as Float32Array;
  const u = up.data as Float32Array;
  for (let i = 0; i < n; i++) {
    const x = g[i]!;
    const a = act === 'relu2' ? (x > 0 ? fr(x * x) : 0) : fr(x / fr(1 + fr(Math.exp(-x))));
    o[i] = a * u[i]!;
  }
}
