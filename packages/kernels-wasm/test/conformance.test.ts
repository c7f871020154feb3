import { describeConformance } from '@trine/conformance/vitest';
import { createWasmBackend } from '../src/index.js';

// Every kernel case against the reference backend: integers (accumulators, int8 activations, argmax) exactly,
// floats by each case's NMSE tolerance. The SIMD kernels, their readable scalar twins, both ternary layouts, and
// two threads. (Relaxed SIMD is checked in Chromium: Node 20 lacks it; see chromium.test.ts.)
describeConformance('wasm simd', () => createWasmBackend({ threads: 1 }), { requireSupport: true });
describeConformance('wasm simd w2x64', () => createWasmBackend({ threads: 1, ternaryLayout: 'w2x64' }), {
  requireSupport: true,
  large: false,
});
describeConformance('wasm scalar', () => createWasmBackend({ threads: 1, variant: 'scalar' }), {
  requireSupport: true,
  large: false,
});
describeConformance('wasm scalar w2x64', () => createWasmBackend({ threads: 1, variant: 'scalar', ternaryLayout: 'w2x64' }), {
  requireSupport: true,
  large: false,
});
// Two threads: the ternary products, attention and the LM head split their ranges over a worker.
describeConformance('wasm 2 threads', () => createWasmBackend({ threads: 2 }), { requireSupport: true, large: false });
