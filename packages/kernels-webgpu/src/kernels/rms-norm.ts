import { f32Bits } from '../context.js';
import type { PendingNorm } from '../fusion.js';
import type { GpuTensor } from '../handles.js';
import type { KernelContext } from '../kernel-context.js';

/**
 * out = x / sqrt(mean(x²) + eps) · weight per row. Deferred when fusion is on and out is a separate f32 tensor: a
 * per_token quantizeActs of out may follow and fuse with it (quantize-acts.ts).
 */
export function rmsNorm(g: KernelContext, out: GpuTensor, x: GpuTensor, weight: GpuTensor, eps: number, rows: number): void {
  g.fusion.settle();
  if (rows === 0) return;
  const n: PendingNorm = { out, x, weight, eps, rows };
  if (g.fusion.enabled && out.buffer !== x.buffer && out.dtype === 'f32') g.fusion.norm = n;
  else recordNorm(g, n);
}

/** The rmsNorm as its own dispatch (in place when out is x). */
export function recordNorm(g: KernelContext, { out, x, weight, eps, rows }: PendingNorm): void {
  const D = weight.shape[0]!;
  const params = [D, f32Bits(eps)];
  if (out.buffer === x.buffer) g.ctx.dispatch(g.programs.get('rms_norm', ['r', 'rw'], { IN_PLACE: true }), [weight.buffer, out.buffer], params, [rows]);
  else g.ctx.dispatch(g.programs.get('rms_norm', ['r', 'r', 'rw']), [x.buffer, weight.buffer, out.buffer], params, [rows]);
}
