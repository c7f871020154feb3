import { TrineError } from '../errors/index.js';

/*
 * Pre-tokenizer regexes, as llama.cpp uses them (src/llama-vocab.cpp). `\s` is spelled \p{White_Space} because
 * llama.cpp's whitespace class is Unicode's White_Space property (JS `\s` differs: it adds U+FEFF, lacks U+0085).
 */
const WS = '\\p{White_Space}';
const NWS = '\\P{White_Space}';

/** LLaMA-3 (`llama-bpe`): the case-expanded contraction variant llama.cpp uses. */
const LLAMA3 = new RegExp(
  [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])",
    '[^\\r\\n\\p{L}\\p{N}]?\\p{L}+',
    '\\p{N}{1,3}',
    ` ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*`,
    `${WS}*[\\r\\n]+`,
    `${WS}+(?!${NWS})`,
    `${WS}+`,
  ].join('|'),
  'gu',
);

/** GPT-2's original regex (`gpt-2` pre-tokenizer). */
const GPT2 = new RegExp(
  ["'s|'t|'re|'ve|'m|'ll|'d", ' ?\\p{L}+', ' ?\\p{N}+', ` ?[^${WS}\\p{L}\\p{N}]+`, `${WS}+(?!${NWS})`, `${WS}+`].join('|'),
  'gu',
);

export interface PreTokenizer {
  readonly regex: RegExp;
  /** LLaMA-3's rule: a pre-token that is itself a vocabulary entry is emitted without merging. */
  readonly ignoreMerges: boolean;
}

/**
 * The pre-tokenizer for `tokenizer.ggml.pre`. A file without the key is taken as `llama-bpe`: BitNet checkpoints
 * use the LLaMA-3 tokenizer, and Trine's own default tokenizer does too.
 */
export function preTokenizerFor(pre: string | undefined): PreTokenizer {
  switch (pre ?? 'llama-bpe') {
    case 'llama-bpe':
    case 'llama3':
    case 'llama-v3':
      return { regex: LLAMA3, ignoreMerges: true };
    case 'gpt-2':
    case 'gpt2':
      return { regex: GPT2, ignoreMerges: false };
    default:
      throw new TrineError('UNSUPPORTED', `tokenizer.ggml.pre: pre-tokenizer "${pre}" is not supported (llama-bpe, gpt-2)`, {
        field: 'tokenizer.ggml.pre',
      });
  }
}

/** Splits text into pre-tokens. Text no alternative matches (none exists for these regexes) is kept as its own piece. */
export function preTokenize(text: string, pre: PreTokenizer): string[] {
  const pieces: string[] = [];
  let end = 0;
  for (const m of text.matchAll(pre.regex)) {
    if (m.index > end) pieces.push(text.slice(end, m.index));
    if (m[0].length > 0) pieces.push(m[0]);
    end = m.index + m[0].length;
  }
  if (end < text.length) pieces.push(text.slice(end));
  return pieces;
}
