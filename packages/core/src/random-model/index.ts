/** One builder for random BitNet GGUF files: shared layout, weights drawn by a parameter. */
export * from './layout.js';
export * from './build.js';
export { WeightRng } from './rng.js';
export { seededWeights } from './seeded.js';
export { randomF16Matrix, randomI2sMatrix, streamedWeights } from './streamed.js';
export { MODEL_SHAPES, type ModelShape } from './shapes.js';
export { defaultTokenizerWithVocab } from './tokenizer.js';
