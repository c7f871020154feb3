import type { RopeParams } from '@trine/core';
import type { WasmContext } from '../context.js';
import type { WasmBatch, WasmTensor } from '../handles.js';

const fr = Math.fround;

/** cos/sin [n, 2, ropeDim/2] by ggml's f32 angle recurrence (as packages/core reference rope), cached per batch. */
function ropeTable(batch: WasmBatch, p: RopeParams): Float32Array {
  const key = `${p.ropeDim}:${p.theta}`;
  let t = batch.rope.get(key);
  if (t) return t;
  const half = p.ropeDim / 2;
  const thetaScale = fr(Math.pow(p.theta, fr(-2 / p.ropeDim)));
  t = new Float32Array(batch.n * 2 * half);
  for (let i = 0; i < batch.n; i++) {
    let angle = fr(batch.positions[i]!);
    const base = i * 2 * half;
    for (let j = 0; j < half; j++) {
      t[base + j] = Math.cos(angle);
      t[base + half + j] = Math.sin(angle);
      angle = fr(angle * thetaScale);
    }
  }
  batch.rope.set(key, t);
  return t;
}

/** In place, NEOX pairing, with the angles' table built on the host (once per batch and parameters). */
export function rope(c: WasmContext, x: WasmTensor, heads: number, batch: WasmBatch, p: RopeParams): void {
  const half = p.ropeDim / 2;
  const table = ropeTable(batch, p);
  const cs = c.area('rope', table.byteLength);
  new Float32Array(c.heap.buffer, cs, table.length).set(table);
  c.x.rope(x.ptr, cs, batch.n, heads, p.headDim, half);
}
