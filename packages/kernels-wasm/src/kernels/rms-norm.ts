import type { WasmContext } from '../context.js';
import type { WasmTensor } from '../handles.js';

export function rmsNorm(c: WasmContext, out: WasmTensor, x: WasmTensor, weight: WasmTensor, eps: number, rows: number): void {
  c.x.rms_norm(out.ptr, x.ptr, weight.ptr, eps, weight.shape[0]!, rows);
}
