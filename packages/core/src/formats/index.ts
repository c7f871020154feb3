export * from './byte-source.js';
export * from './gguf/index.js';
export * from './gguf/model.js';
export * from './model-check.js';
export * from './float-tensors.js';
export * from './open-model.js';
