import type { WasmContext } from '../context.js';
import type { WasmTensor } from '../handles.js';

export function add(c: WasmContext, out: WasmTensor, a: WasmTensor, b: WasmTensor, rows: number): void {
  c.x.add(out.ptr, a.ptr, b.ptr, rows * out.rowElems);
}
