import type { TokenizerSpec } from './spec.js';
import { BYTE_TO_CHAR, toByteLevel } from './byte-level.js';
import { preTokenize, preTokenizerFor } from './pretokenize.js';
import { BITNET_2B4T_CHAT_TEMPLATE } from './chat.js';
import { DEFAULT_TOKENIZER_CORPUS } from './default-corpus.js';

/** The LLaMA-3 special tokens, in the order they follow the merged tokens. */
export const DEFAULT_SPECIAL_TOKENS = [
  '<|begin_of_text|>',
  '<|end_of_text|>',
  '<|start_header_id|>',
  '<|end_header_id|>',
  '<|eot_id|>',
] as const;

/** Vocabulary size of the default tokenizer: 256 bytes + 699 merged tokens + 5 specials (a multiple of 64). */
export const DEFAULT_VOCAB_SIZE = 960;

interface Word {
  symbols: string[];
  freq: number;
}

/**
 * Learns byte-level BPE merges by the plain rule (as the fixtures' tokenizer was trained): pre-tokenize with the
 * LLaMA-3 regex, count words, then repeatedly merge the most frequent adjacent pair, counts weighted by word
 * frequency, ties to the lexicographically smallest (left, right) pair. Stops after `newTokens` distinct merge
 * results, or earlier when no pair is left. Pair counts are updated only for the words a merge touches.
 */
export function trainByteLevelBpe(text: string, newTokens: number): { merges: string[]; tokens: string[] } {
  const freq = new Map<string, number>();
  for (const piece of preTokenize(text, preTokenizerFor('llama-bpe'))) {
    const word = toByteLevel(piece);
    freq.set(word, (freq.get(word) ?? 0) + 1);
  }
  const words: Word[] = [...freq].map(([w, f]) => ({ symbols: Array.from(w), freq: f }));

  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const account = (wi: number, sign: 1 | -1) => {
    const { symbols, freq: f } = words[wi]!;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = `${symbols[i]} ${symbols[i + 1]}`;
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * f);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (set === undefined) pairWords.set(key, (set = new Set()));
        set.add(wi);
      }
    }
  };
  words.forEach((_, wi) => account(wi, 1));

  const tokens = new Set<string>();
  const merges: string[] = [];
  while (tokens.size < newTokens) {
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, count] of pairCount) {
      if (count > bestCount || (count === bestCount && count > 0 && comparePairs(key, best!) < 0)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split(' ') as [string, string];
    const merged = left + right;
    merges.push(best);
    tokens.add(merged);
    for (const wi of pairWords.get(best) ?? []) {
      account(wi, -1);
      const s = words[wi]!.symbols;
      const out: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === left && s[i + 1] === right) {
          out.push(merged);
          i++;
        } else out.push(s[i]!);
      }
      words[wi]!.symbols = out;
      account(wi, 1);
    }
    pairWords.delete(best);
    pairCount.delete(best);
  }
  return { merges, tokens: [...tokens] };
}

/** Orders "left right" keys as (left, right) tuples; byte-level characters are all in the BMP and never a space. */
function comparePairs(a: string, b: string): number {
  const [al, ar] = a.split(' ') as [string, string];
  const [bl, br] = b.split(' ') as [string, string];
  if (al !== bl) return al < bl ? -1 : 1;
  return ar < br ? -1 : ar > br ? 1 : 0;
}

let cached: TokenizerSpec | undefined;

/**
 * The tokenizer of Trine's embedded default model: a gpt2/llama-bpe byte-level BPE trained on
 * DEFAULT_TOKENIZER_CORPUS. Layout as in the fixtures: ids 0–255 the bytes in GPT-2 order, then the merged tokens
 * in merge order, then the LLaMA-3 special tokens (control). Deterministic: the same spec on every call and host.
 */
export function buildDefaultTokenizerSpec(): TokenizerSpec {
  cached ??= createDefaultTokenizerSpec();
  return cached;
}

/** Trains the default tokenizer afresh (buildDefaultTokenizerSpec caches this). */
export function createDefaultTokenizerSpec(): TokenizerSpec {
  return byteLevelBpeSpec(DEFAULT_TOKENIZER_CORPUS, DEFAULT_VOCAB_SIZE);
}

/**
 * A gpt2/llama-bpe tokenizer of `vocabSize` tokens trained on `corpus`, laid out as the default one: the 256 bytes,
 * the merged tokens, the LLaMA-3 specials (BOS added, 2B4T chat template). training/ builds the trained model's so.
 */
export function byteLevelBpeSpec(corpus: string, vocabSize: number): TokenizerSpec {
  const byteTokens = [...BYTE_TO_CHAR].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const merged = trainByteLevelBpe(corpus, vocabSize - 256 - DEFAULT_SPECIAL_TOKENS.length);
  const tokens = [...byteTokens, ...merged.tokens, ...DEFAULT_SPECIAL_TOKENS];
  const first = byteTokens.length + merged.tokens.length;
  const tokenTypes = new Int32Array(tokens.length).fill(1);
  tokenTypes.fill(3, first);
  return Object.freeze({
    model: 'gpt2',
    pre: 'llama-bpe',
    tokens: Object.freeze(tokens),
    tokenTypes,
    merges: Object.freeze(merged.merges),
    bosId: first,
    eosId: first + 1,
    eotId: first + 4,
    addBos: true,
    addEos: false,
    chatTemplate: BITNET_2B4T_CHAT_TEMPLATE,
  });
}
