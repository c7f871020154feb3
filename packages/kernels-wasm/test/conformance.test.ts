import { describeConformance } from '@trine/conformance/vitest';
import { createWasmBackend } from '../src/index.js';

// Every kernel case against the reference backend: integers (accumulators, int8 activations, argmax) exactly,
// floats by each case's NMSE tolerance. Once with the SIMD kernels, once with their readable scalar twins.
describeConformance('wasm simd', () => createWasmBackend({ threads: 1 }), { requireSupport: true });
describeConformance('wasm scalar', () => createWasmBackend({ threads: 1, variant: 'scalar' }), {
  requireSupport: true,
  large: false,
});
// Two threads: the ternary products, attention and the LM head split their ranges over a worker.
describeConformance('wasm 2 threads', () => createWasmBackend({ threads: 2 }), { requireSupport: true, large: false });
