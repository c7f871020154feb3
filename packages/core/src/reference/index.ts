export { ReferenceBackend, createReferenceBackend, referenceBackendFactory } from './backend.js';
export { RefBatch, RefKvCache, RefMatrix, RefTensor, RefTernary, allocHostArray, type RefHandles } from './storage.js';
export * as referenceKernels from './kernels/index.js';
export { quantizeRowsQ8 } from './q8.js';
