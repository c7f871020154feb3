/**
 * The wasm kernels, one per file (the file names of core/src/reference/kernels), collected here: each takes the
 * WasmContext first, then the op's arguments. backend.ts hands this module to withKernels, which checks each
 * against its op's signature. Every op of the op table is here, in every variant (no limits).
 */
export { add } from './add.js';
export { argmax } from './argmax.js';
export { attention } from './attention.js';
export { embedding } from './embedding.js';
export { gatedActivation } from './gated-activation.js';
export { kvStore } from './kv-store.js';
export { lmHead } from './lm-head.js';
export { quantizeActs } from './quantize-acts.js';
export { rmsNorm } from './rms-norm.js';
export { rope } from './rope.js';
export { ternaryMatmulAcc } from './ternary-matmul-acc.js';
export { ternaryMatmul } from './ternary-matmul.js';
