// The directory loader (hf/model.ts) imports node:path; openModel loads it lazily, so it is not re-exported here.
export * from './names.js';
export * from './packing.js';
export * from './tokenizer.js';
export * from './writer.js';
