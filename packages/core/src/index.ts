export * from './errors/index.js';
export * from './kernels/spec.js';
export * from './generate/types.js';
