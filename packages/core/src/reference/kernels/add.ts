import type { RefTensor } from '../storage.js';

/** out = a + b in f32 (the residual). out may alias a or b. */
export function add(out: RefTensor, a: RefTensor, b: RefTensor, rows: number): void {
  const n = rows * out.rowSize;
  const o = out.data as Float32Array;
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  for (let i = 0; i < n; i++) o[i] = x[i]! + y[i]!; // Float32Array stores round to f32
}
