import type { WasmContext } from '../context.js';
import type { WasmMatrix, WasmTensor } from '../handles.js';

/** out[i,:] = f32(table[ids[i],:]) for an f16, f32 or q8 table. */
export function embedding(c: WasmContext, out: WasmTensor, table: WasmMatrix, ids: Int32Array): void {
  const idp = c.ints('ids', ids);
  if (table.format === 'f16') c.x.embedding_f16(out.ptr, table.ptr, table.cols, idp, ids.length);
  else if (table.format === 'f32') c.x.embedding_f32(out.ptr, table.ptr, table.cols, idp, ids.length);
  else c.x.embedding_q8(out.ptr, table.ptr, table.scalesPtr, table.cols, idp, ids.length);
}
