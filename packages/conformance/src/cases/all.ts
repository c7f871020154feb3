import type { ConformanceCase } from '../types.js';
import { OP_CASES } from './index.js';
import { modelCases } from './model.js';
import { trainedModelCases } from './trained-model.js';

/**
 * The cases that need no file: the op cases and the random-weight model cases. The trained-model case reads core's
 * shipped assets/trine-default.gguf, which a browser has no file system to open.
 */
export const SELF_CONTAINED_CASES: readonly ConformanceCase[] = [...OP_CASES, ...modelCases];

/** Every case the kit runs: the op cases, then the whole-model cases (random weights, then the trained model). */
export const ALL_CASES: readonly ConformanceCase[] = [...SELF_CONTAINED_CASES, ...trainedModelCases];
