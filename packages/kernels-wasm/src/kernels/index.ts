/**
 * The wasm kernels, one per file (the file names of core/src/reference/kernels), collected here: each takes the
 * WasmContext first, then the op's arguments. Every op of the op table is here, in every variant (no limits).
 */
import type { KernelMap } from '@trine/core';
import type { WasmContext } from '../context.js';
import type { WasmHandles } from '../handles.js';
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

export const wasmKernels: KernelMap<WasmContext, WasmHandles> = {
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
