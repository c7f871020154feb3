import type { RefTensor } from '../storage.js';

/** out[r] = index of the first maximum of logits row r (NaN never wins). */
export function argmax(out: RefTensor, logits: RefTensor, rows: number): void {
  const V = logits.rowSize;
  const l = logits.data as Float32Array;
  const o = out.data as Int32Array;
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestV = -Infinity;
    for (let v = 0; v < V; v++) {
      const x = l[r * V + v]!;
      if (x > bestV) {
        bestV = x;
        best = v;
      }
    }
    o[r] = best;
  }
}
