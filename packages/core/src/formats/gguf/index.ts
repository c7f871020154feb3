export * from './types.js';
export * from './reader.js';
export * from './writer.js';
export * from './meta.js';
