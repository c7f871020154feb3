export * from './spec.js';
export * from './tokenizer.js';
export { TokenType } from './vocab.js';
export * from './chat.js';
export { BYTE_TO_CHAR, toByteLevel, fromByteLevel } from './byte-level.js';
export * from './default.js';
export * from './from-gguf.js';
