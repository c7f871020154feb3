/**
 * The embedded default model: the real BitNet b1.58 2B4T architecture (arch `bitnet-b1.58`: relu² gated FFN, GQA,
 * attention and FFN sub-norms, I2_S ternary projections, tied F16 embeddings) at a toy size, with weights drawn
 * from a seeded PRNG. Its weights are RANDOM: it runs every kernel the real model runs, and its text is gibberish.
 *
 * Built by the random-model builder on Trine's own GGUF writer, so loading it exercises the same reader and loader
 * as a real file. Generation uses only integer arithmetic and correctly rounded float operations, so the bytes are
 * the same everywhere.
 */
import type { GgufValue, GgufWriteTensor } from '../formats/gguf/index.js';
import { buildRandomBitnetGguf, randomBitnetContents, seededWeights, type RandomBitnetConfig } from '../random-model/index.js';
import type { TokenizerSpec } from '../tokenizer/spec.js';

/** Shape of the default model (2B4T's structure: head dim 64, 2 query heads per KV head). */
export const DEFAULT_MODEL_SHAPE = {
  arch: 'bitnet-b1.58',
  hidden: 256,
  layers: 4,
  heads: 4,
  kvHeads: 2,
  ffn: 768,
  context: 512,
  ropeTheta: 500000,
  rmsEps: 1e-5,
} as const;

/** Bump when the generator's output changes, so caches keyed on it are rebuilt. */
export const DEFAULT_MODEL_VERSION = 1;
export const DEFAULT_MODEL_SEED = 0x7472696e65; // "trine"
export const DEFAULT_MODEL_NAME = 'trine-default-random (random weights: output is gibberish)';

function defaultModelConfig(tokenizer: TokenizerSpec): RandomBitnetConfig {
  return {
    ...DEFAULT_MODEL_SHAPE,
    ternary: 'I2_S',
    tokenizer,
    name: DEFAULT_MODEL_NAME,
    description: 'Trine embedded default model: the BitNet b1.58 2B4T architecture at toy size with random weights.',
    fileType: 40, // LLAMA_FTYPE_MOSTLY_I2_S
  };
}

/** Metadata and tensors of the default model, in bitnet.cpp's tensor order. */
export function defaultModelContents(tokenizer: TokenizerSpec): { metadata: [string, GgufValue][]; tensors: GgufWriteTensor[] } {
  return randomBitnetContents(defaultModelConfig(tokenizer), seededWeights(DEFAULT_MODEL_SEED));
}

/** The default model as GGUF bytes, in memory (browsers, tests). */
export function buildDefaultModelBytes(tokenizer: TokenizerSpec): Uint8Array {
  return buildRandomBitnetGguf(defaultModelConfig(tokenizer), seededWeights(DEFAULT_MODEL_SEED));
}
