import { accumulatorGroups, type QuantizedActs } from '@trine/core';
import { gone, type WasmContext } from '../context.js';
import type { WasmTensor, WasmTernary } from '../handles.js';

/** w2x64: activation rows padded to Kp (when needed), as int16, and their group sums, as the kernels read them. */
export function prepareActs(c: WasmContext, a: QuantizedActs<WasmTensor>, w: WasmTernary, rows: number, G: number): [number, number, number] {
  c.lutCache = null; // the 'act' scratch is shared
  const K = w.cols;
  const copy = w.Kp !== K;
  const act = copy ? c.area('act', rows * w.Kp) : a.q.ptr;
  const a16 = c.area('act16', rows * w.Kp * 2);
  const sums = c.area('sums', rows * G * 4);
  c.x.ternary_prepare(act, a16, sums, a.q.ptr, K, w.Kp, G, rows, copy ? 1 : 0);
  return [act, a16, sums];
}

/** lut16: activation rows padded to Kp (when needed) and their lookup tables, built once for q, k, v (gate, up). */
export function prepareLut(c: WasmContext, a: QuantizedActs<WasmTensor>, w: WasmTernary, rows: number): [number, number, number] {
  const tmp = c.area('lut-tmp', 256 * c.exec.threads); // 64 i32 sums per thread
  const l = c.lutCache;
  if (l && l.q === a.q && l.version === a.q.version && l.rows >= rows && l.Kp === w.Kp && l.K === w.cols) {
    return [l.act, l.tables, tmp];
  }
  const K = w.cols;
  let act = a.q.ptr;
  if (w.Kp !== K) {
    act = c.area('act', rows * w.Kp);
    const u8 = c.heap.u8;
    for (let r = 0; r < rows; r++) {
      u8.copyWithin(act + r * w.Kp, a.q.ptr + r * K, a.q.ptr + (r + 1) * K);
      u8.fill(0, act + r * w.Kp + K, act + (r + 1) * w.Kp);
    }
  }
  const tables = c.area('lut-tables', rows * c.x.lut_row_bytes(w.Kp));
  c.x.ternary_lut_tables(tables, act, w.Kp, rows);
  c.lutCache = { q: a.q, version: a.q.version, rows, K, Kp: w.Kp, act, tables };
  return [act, tables, tmp];
}

/** The raw integer accumulators, from either weight layout. */
export function ternaryMatmulAcc(c: WasmContext, out: WasmTensor, a: QuantizedActs<WasmTensor>, w: WasmTernary, rows: number): void {
  if (w.disposed) gone('ternaryMatmulAcc.w');
  const G = accumulatorGroups(a.scheme, w.cols);
  if (w.layout === 'lut16') {
    const [act, tables, tmp] = prepareLut(c, a, w, rows);
    const args = [out.ptr, w.ptr, act, tables, w.Kp, G, w.rows, rows, c.scalar, tmp];
    c.exec.run('ternary_lut_acc', args, Math.ceil(w.rows / 16));
    return;
  }
  const [act, a16, sums] = prepareActs(c, a, w, rows, G);
  c.exec.run('ternary_acc', [out.ptr, w.ptr, act, a16, sums, w.Kp, G, w.rows, rows, c.scalar], w.rows);
}
