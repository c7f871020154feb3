/**
 * Small random BitNet models (tests only): real files through the real loader. Two flavours cover both engines'
 * numerics: `bitnet-b1.58` + I2_S (per_token, relu²) and `bitnet` + TQ2_0 (per_block256, silu), with the default
 * model's weight draw (fixtures README §2) so attention is not uniform.
 */
import { buildRandomBitnetGguf, seededWeights, type RandomBitnetConfig } from '../../random-model/index.js';
import { BYTE_TO_CHAR } from '../../tokenizer/byte-level.js';
import type { TokenizerSpec } from '../../tokenizer/spec.js';

export interface RandomModelShape extends Pick<RandomBitnetConfig, 'arch' | 'hidden' | 'layers' | 'heads' | 'kvHeads' | 'ffn' | 'context' | 'ropeDim'> {
  ternary: 'I2_S' | 'TQ2_0';
  seed: number;
}

export const SMALL_I2S: RandomModelShape = { arch: 'bitnet-b1.58', ternary: 'I2_S', hidden: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 512, context: 64, seed: 11 };
export const SMALL_TQ2: RandomModelShape = { arch: 'bitnet', ternary: 'TQ2_0', hidden: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 512, context: 64, seed: 12 };

/** 256 byte tokens plus BOS/EOS: vocab 258. */
function byteTokenizer(): TokenizerSpec {
  const tokens = [...BYTE_TO_CHAR, '<|begin_of_text|>', '<|end_of_text|>'];
  const tokenTypes = Int32Array.from(tokens, (_, i) => (i < 256 ? 1 : 3));
  return { model: 'gpt2', pre: 'llama-bpe', tokens, tokenTypes, merges: [], bosId: 256, eosId: 257, addBos: true, addEos: false };
}

export function randomModelBytes({ seed, ...shape }: RandomModelShape): Uint8Array {
  return buildRandomBitnetGguf({ ...shape, tokenizer: byteTokenizer(), name: `random-${shape.arch}-${shape.ternary}` }, seededWeights(seed));
}
