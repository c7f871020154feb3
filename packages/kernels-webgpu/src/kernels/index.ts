/**
 * The WebGPU kernels, one per file (the file names of core/src/reference/kernels), collected here. rmsNorm,
 * quantizeActs and rope take part in fusion (fusion.ts) and settle it themselves; every other op records what is
 * pending first (`settled`), so the order of effects is the order of the calls.
 */
import type { KernelImpl, KernelName } from '@trine/core';
import type { GpuHandles } from '../handles.js';
import type { KernelContext } from '../kernel-context.js';
import { add } from './add.js';
import { argmax } from './argmax.js';
import { attention } from './attention.js';
import { embedding } from './embedding.js';
import { gatedActivation } from './gated-activation.js';
import { kvStore } from './kv-store.js';
import { lmHead } from './lm-head.js';
import { quantizeActs } from './quantize-acts.js';
import { rmsNorm } from './rms-norm.js';
import { rope } from './rope.js';
import { ternaryMatmulAcc } from './ternary-matmul-acc.js';
import { ternaryMatmul } from './ternary-matmul.js';

export { MAX_ATTENTION_HEAD_DIM } from './attention.js';
export { recordNorm } from './rms-norm.js';
export { recordRope } from './rope.js';

function settled<A extends unknown[]>(op: (g: KernelContext, ...args: A) => void): (g: KernelContext, ...args: A) => void {
  return (g, ...args) => {
    g.fusion.settle();
    op(g, ...args);
  };
}

/** Every op (none is left out: supports() has only the declared limits to refuse). */
export const webgpuKernels: { readonly [K in KernelName]: KernelImpl<KernelContext, GpuHandles, K> } = {
  embedding: settled(embedding),
  rmsNorm,
  add: settled(add),
  quantizeActs,
  ternaryMatmul: settled(ternaryMatmul),
  ternaryMatmulAcc: settled(ternaryMatmulAcc),
  rope,
  kvStore: settled(kvStore),
  attention: settled(attention),
  gatedActivation: settled(gatedActivation),
  lmHead: settled(lmHead),
  argmax: settled(argmax),
};
