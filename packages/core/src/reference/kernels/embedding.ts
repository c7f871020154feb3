import { f16ToF32 } from '../../quant/f16.js';
import type { RefMatrix, RefTensor } from '../storage.js';

/** out[i,:] = f32(table[ids[i],:]); a q8 table gives f32(q · rowScale). */
export function embedding(out: RefTensor, table: RefMatrix, ids: Int32Array): void {
  const D = table.cols;
  const o = out.data as Float32Array;
  for (let i = 0; i < ids.length; i++) {
    const row = ids[i]! * D;
    const dst = i * D;
    if (table.f16) for (let d = 0; d < D; d++) o[dst + d] = f16ToF32(table.f16[row + d]!);
    else if (table.f32) for (let d = 0; d < D; d++) o[dst + d] = table.f32[row + d]!;
    else {
      const { q, scales } = table.q8!;
      const s = scales[ids[i]!]!;
      for (let d = 0; d < D; d++) o[dst + d] = Math.fround(q[row + d]! * s);
    }
  }
}
