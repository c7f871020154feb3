/** The reference kernels, one per file, over host storage (storage.ts). Other backends may call them per op. */
export { add } from './add.js';
export { argmax } from './argmax.js';
export { attention } from './attention.js';
export { embedding } from './embedding.js';
export { gatedActivation } from './gated-activation.js';
export { kvStore } from './kv-store.js';
export { lmHead } from './lm-head.js';
export { quantizeActs, quantizePerBlock256, quantizePerToken } from './quantize-acts.js';
export { rmsNorm } from './rms-norm.js';
export { rope } from './rope.js';
export { ternaryAccumulate, ternaryMatmulAcc } from './ternary-matmul-acc.js';
export { ternaryMatmul } from './ternary-matmul.js';
