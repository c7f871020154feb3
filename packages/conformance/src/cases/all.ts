import type { ConformanceCase } from '../types.js';
import { OP_CASES } from './index.js';
import { modelCases } from './model.js';
import { trainedModelCases } from './trained-model.js';

/** Every case the kit runs: the op cases, then the whole-model cases (random weights, then the trained model). */
export const ALL_CASES: readonly ConformanceCase[] = [...OP_CASES, ...modelCases, ...trainedModelCases];
