import { TrineError } from '../errors/index.js';
import { buildDefaultTokenizerSpec } from '../tokenizer/default.js';
import type { TokenizerSpec } from '../tokenizer/spec.js';
import { TokenType } from '../tokenizer/vocab.js';

/**
 * A tokenizer with exactly `vocab` tokens: the default tokenizer's 256 byte tokens and BPE merges, filler control
 * tokens `<|reserved_N|>` (as LLaMA-3 reserves its unused ids), then the LLaMA-3 specials. A valid gpt2 / llama-bpe
 * tokenizer for Trine's and bitnet.cpp's loaders.
 */
export function defaultTokenizerWithVocab(vocab: number): TokenizerSpec {
  const base = buildDefaultTokenizerSpec();
  const first = base.bosId;
  if (first === undefined) throw new TrineError('UNSUPPORTED', 'default tokenizer has no BOS id', { field: 'bosId' });
  const specials = base.tokens.slice(first);
  if (vocab < base.tokens.length)
    throw new TrineError('INVALID_ARGUMENT', `vocab ${vocab} is smaller than the default tokenizer's ${base.tokens.length}`, { field: 'vocab' });
  const fill = vocab - base.tokens.length;
  const tokens = [...base.tokens.slice(0, first)];
  for (let i = 0; i < fill; i++) tokens.push(`<|reserved_${i}|>`);
  tokens.push(...specials);
  const tokenTypes = new Int32Array(vocab).fill(TokenType.normal);
  tokenTypes.fill(TokenType.control, first);
  const shift = (id: number | undefined) => (id === undefined ? undefined : id + fill);
  return {
    ...base,
    tokens,
    tokenTypes,
    bosId: shift(base.bosId),
    eosId: shift(base.eosId),
    eotId: shift(base.eotId),
    unkId: base.unkId !== undefined && base.unkId >= first ? shift(base.unkId) : base.unkId,
    padId: base.padId !== undefined && base.padId >= first ? shift(base.padId) : base.padId,
    eogIds: base.eogIds?.map((id) => (id >= first ? id + fill : id)),
  };
}
