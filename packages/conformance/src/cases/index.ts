import type { ConformanceCase } from '../types.js';
import { addCases } from './add.js';
import { argmaxCases } from './argmax.js';
import { attentionCases } from './attention.js';
import { embeddingCases } from './embedding.js';
import { gatedActivationCases } from './gated-activation.js';
import { kvStoreCases } from './kv-store.js';
import { lmHeadCases } from './lm-head.js';
import { quantizeActsCases } from './quantize-acts.js';
import { rmsNormCases } from './rms-norm.js';
import { ropeCases } from './rope.js';
import { ternaryMatmulAccCases } from './ternary-matmul-acc.js';
import { ternaryMatmulCases } from './ternary-matmul.js';

/** Every op case, grouped in KERNEL_NAMES order (a test checks each kernel has cases). */
export const OP_CASES: readonly ConformanceCase[] = [
  ...embeddingCases,
  ...rmsNormCases,
  ...addCases,
  ...quantizeActsCases,
  ...ternaryMatmulCases,
  ...ternaryMatmulAccCases,
  ...ropeCases,
  ...kvStoreCases,
  ...attentionCases,
  ...gatedActivationCases,
  ...lmHeadCases,
  ...argmaxCases,
];
