import type { QuantizedActs } from '@trine/core';
import { f32Bits } from '../context.js';
import type { GpuTensor } from '../handles.js';
import type { KernelContext } from '../kernel-context.js';

/**
 * int8 activations and their scales (per_token or per_block256). A per_token quantization of a deferred rmsNorm's
 * whole output runs fused with it (rms_norm_quantize: the same arithmetic, so bit-identical: test/fusion.test.ts).
 */
export function quantizeActs(g: KernelContext, out: QuantizedActs<GpuTensor>, x: GpuTensor, rows: number): void {
  const n = g.fusion.norm;
  const K = out.q.shape[1]!;
  const words = out.q.rowStride / 4;
  if (n && n.out === x && rows === n.rows && out.scheme === 'per_token' && K === n.weight.shape[0] && x.rowStride === K) {
    g.fusion.norm = null;
    const buffers = [n.x.buffer, n.weight.buffer, n.out.buffer, out.q.buffer, out.scales.buffer];
    g.ctx.dispatch(g.programs.get('rms_norm_quantize', ['r', 'r', 'rw', 'rw', 'rw']), buffers, [K, f32Bits(n.eps), words], [rows]);
    return;
  }
  g.fusion.settle();
  if (rows === 0) return;
  const buffers = [x.buffer, out.q.buffer, out.scales.buffer];
  if (out.scheme === 'per_token') g.ctx.dispatch(g.programs.get('quantize_per_token', ['r', 'rw', 'rw']), buffers, [K, words], [rows]);
  else g.ctx.dispatch(g.programs.get('quantize_per_block256', ['r', 'rw', 'rw']), buffers, [K, words], [K / 256, rows]);
}
