export * from './errors/index.js';
export * from './kernels/spec.js';
export * from './generate/types.js';
export * from './model/config.js';
export * from './tokenizer/spec.js';
export * from './quant/f16.js';
export * from './tokenizer/index.js';
export * from './formats/index.js';
