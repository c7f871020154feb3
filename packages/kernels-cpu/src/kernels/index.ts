/**
 * The CPU kernels, one per file (the file names of core/src/reference/kernels), collected here. Each unpacks its
 * handles into one synchronous call of the addon (native/glue/<op>.cc), which checks its arguments again.
 */
import type { KernelImpl, KernelName } from '@trine/core';
import type { CpuContext } from '../context.js';
import type { CpuHandles } from '../handles.js';
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

/** Every op (none is left out: supports() has only the declared limits to refuse). */
export const cpuKernels: { readonly [K in KernelName]: KernelImpl<CpuContext, CpuHandles, K> } = {
  embedding,
  rmsNorm,
  add,
  quantizeActs,
  ternaryMatmul,
  ternaryMatmulAcc,
  rope,
  kvStore,
  attention,
  gatedActivation,
  lmHead,
  argmax,
};
