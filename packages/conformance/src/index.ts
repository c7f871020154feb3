/**
 * @trine/conformance: one suite of kernel and whole-model cases that every backend runs against the reference
 * (ggml's test-backend-ops, split into one file per kernel). Browser-safe: the vitest helper is
 * `@trine/conformance/vitest`, the Node CLI `@trine/conformance/cli`.
 */
export * from './types.js';
export { runConformance, runCase, selectCases, type RunOptions, type CaseFilter } from './runner.js';
export { formatReport, formatMatrix, summaryLine } from './report.js';
export { compareOutput, compareOutputs, nmse, maxAbsError } from './compare.js';
export { TOL } from './tolerances.js';
export { ALL_CASES, SELF_CONTAINED_CASES } from './cases/all.js';
export { OP_CASES } from './cases/index.js';
export { Prng } from './prng.js';
export { opCase, Uploads, EXACT, nmseAtMost, type Readback } from './harness.js';
