import type { WasmContext } from '../context.js';
import type { WasmTensor } from '../handles.js';

export function argmax(c: WasmContext, out: WasmTensor, logits: WasmTensor, rows: number): void {
  c.x.argmax(out.ptr, logits.ptr, logits.rowElems, rows);
}
