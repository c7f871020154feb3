import { describeConformance } from '@trine/conformance/vitest';
import { createWebGpuBackend } from '../src/index.js';
import { useSwiftShader } from './swiftshader.js';

useSwiftShader();

// Every kernel and model case against the reference on SwiftShader: integers (accumulators, int8 activations,
// argmax, greedy tokens) exactly, floats by each case's NMSE tolerance. On SwiftShader the backend picks the
// barrier-free `serial` matrix kernels and dot4I8Packed. Cases past the backend's declared limits (attention
// headDim > 256) are skipped with their reason; the runner first checks each such gap is real.
describeConformance('webgpu', () => createWebGpuBackend());
// The kernels a real GPU runs (`teams`: 32 invocations per output and a workgroup reduction), with the unpacked
// int8 dot (adapters without packed_4x8_integer_dot_product), matrices split into many small bindings, and a
// submission every 3 dispatches (the parameter arena reused mid-step).
describeConformance(
  'webgpu teams, unpacked dot, split matrices',
  () => createWebGpuBackend({ variant: 'scalar', reduction: 'teams', maxMatrixChunkBytes: 4096, submitEvery: 3 }),
  { requireSupport: true, large: false, filter: 'ternary,quantizeActs,lmHead,embedding,argmax,model/bitnet-b1.58.i2_s.per_token.relu2/greedy,model/bitnet.tq2_0.per_block256.silu/logits' },
);
