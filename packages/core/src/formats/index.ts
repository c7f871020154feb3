export * from './byte-source.js';
export * from './gguf/index.js';
