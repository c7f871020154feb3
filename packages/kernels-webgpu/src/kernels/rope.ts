import type { RopeParams } from '@trine/core';
import type { PendingRope } from '../fusion.js';
import type { GpuBatch, GpuTensor } from '../handles.js';
import type { KernelContext } from '../kernel-context.js';

/**
 * Rotate x in place by each token's position. Deferred when fusion is on: a rope of another tensor over the same
 * batch and parameters next (rope(q) then rope(k)) joins it in one dispatch (TWO).
 */
export function rope(g: KernelContext, x: GpuTensor, heads: number, batch: GpuBatch, p: RopeParams): void {
  const r = g.fusion.rope;
  if (r && r.batch === batch && r.x.buffer !== x.buffer && sameRope(r.p, p) && batch.n <= ropeTokensPerDispatch(p)) {
    g.fusion.rope = null;
    recordRope(g, r, { x, heads });
    return;
  }
  g.fusion.settle();
  if (batch.n === 0) return;
  if (g.fusion.enabled) g.fusion.rope = { x, heads, batch, p };
  else recordRope(g, { x, heads, batch, p }, null);
}

/** One rope (or two tensors' at once), with the batch's cos/sin table in the parameter window. */
export function recordRope(g: KernelContext, { x, heads, batch, p }: PendingRope, second: { x: GpuTensor; heads: number } | null): void {
  const half = p.ropeDim / 2;
  const key = `${p.ropeDim}:${p.theta}`;
  let table = batch.rope.get(key);
  if (!table) {
    table = ropeTable(batch.positions, p);
    batch.rope.set(key, table);
  }
  const perDispatch = ropeTokensPerDispatch(p);
  const prog = second ? g.programs.get('rope', ['rw', 'rw'], { TWO: true }) : g.programs.get('rope', ['rw']);
  const buffers = second ? [x.buffer, second.x.buffer] : [x.buffer];
  const heads2 = second ? second.heads : 0;
  for (let i0 = 0; i0 < batch.n; i0 += perDispatch) {
    const n = Math.min(perDispatch, batch.n - i0);
    const params = new Uint32Array(8 + 2 * n * half);
    params.set([n, heads, p.headDim, half, i0, heads2]);
    params.set(table.subarray(2 * i0 * half, 2 * (i0 + n) * half), 8);
    g.ctx.dispatch(prog, buffers, params, [Math.ceil((n * (heads + heads2) * half) / 256)]);
  }
}

/** Tokens per rope dispatch, so each table slice fits the parameter window. */
function ropeTokensPerDispatch(p: RopeParams): number {
  return Math.max(1, Math.floor((1 << 18) / p.ropeDim) - 1);
}

function sameRope(a: RopeParams, b: RopeParams): boolean {
  return a.ropeDim === b.ropeDim && a.headDim === b.headDim && a.theta === b.theta;
}

/** cos, sin bit patterns per (token, pair), with the reference's f32 angle recurrence (ggml's). */
function ropeTable(positions: Int32Array, p: RopeParams): Uint32Array {
  const fr = Math.fround;
  const half = p.ropeDim / 2;
  const thetaScale = fr(Math.pow(p.theta, fr(-2 / p.ropeDim)));
  const f = new Float32Array(2 * positions.length * half);
  for (let i = 0; i < positions.length; i++) {
    let angle = fr(positions[i]!);
    for (let j = 0; j < half; j++) {
      f[2 * (i * half + j)] = Math.cos(angle);
      f[2 * (i * half + j) + 1] = Math.sin(angle);
      angle = fr(angle * thetaScale);
    }
  }
  return new Uint32Array(f.buffer);
}
