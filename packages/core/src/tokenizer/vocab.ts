import { TrineError } from '../errors/index.js';
import type { TokenizerSpec } from './spec.js';

/** GGUF token types (`tokenizer.ggml.token_type`). */
export const TokenType = {
  undefined: 0,
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

/** Control-token texts llama.cpp adds to its end-of-generation set whatever the file's eos/eot keys say. */
const EOG_TEXTS = new Set([
  '<|eot_id|>',
  '<|eom_id|>',
  '<|im_end|>',
  '<|end|>',
  '<|return|>',
  '<|call|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<EOT>',
  '_<EOT>',
  '<｜end▁of▁sentence｜>',
  '<end_of_utterance>',
]);

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

export function modelError(field: string, problem: string): TrineError {
  return new TrineError('INVALID_MODEL_FILE', `${field}: ${problem}`, { field });
}

/** What a spec's arrays say about each token, checked once (reliability cases 12–14). */
export interface Vocab {
  readonly size: number;
  /** Token type per id (0 read as normal). */
  readonly types: Uint8Array;
  /** Text → id; later duplicates win, as in llama.cpp's token_to_id map. */
  readonly tokenToId: ReadonlyMap<string, number>;
  /** Byte → id of its `<0xXX>` token, -1 where there is none. */
  readonly byteTokens: Int32Array;
  /** Id → the byte a byte token stands for, -1 for other tokens. */
  readonly byteValue: Int16Array;
  /** Control, user-defined and unknown tokens, longest text first (llama.cpp's cache_special_tokens). */
  readonly specials: readonly number[];
  /** End-of-generation ids. */
  readonly eog: ReadonlySet<number>;
}

export function analyzeVocab(spec: TokenizerSpec): Vocab {
  const n = spec.tokens.length;
  if (spec.model !== 'gpt2' && spec.model !== 'llama') {
    throw new TrineError('UNSUPPORTED', `tokenizer.ggml.model: "${String(spec.model)}" is not supported (gpt2, llama)`, {
      field: 'tokenizer.ggml.model',
    });
  }
  if (n === 0) throw modelError('tokenizer.ggml.tokens', 'the vocabulary is empty');
  if (spec.tokenTypes !== undefined && spec.tokenTypes.length !== n) {
    throw modelError('tokenizer.ggml.token_type', `has ${spec.tokenTypes.length} entries for ${n} tokens`);
  }
  if (spec.scores !== undefined && spec.scores.length !== n) {
    throw modelError('tokenizer.ggml.scores', `has ${spec.scores.length} entries for ${n} tokens`);
  }
  if (spec.scores !== undefined) {
    // A NaN score would make the SPM merge order depend on heap layout.
    const bad = spec.scores.findIndex((x) => Number.isNaN(x));
    if (bad >= 0) throw modelError(`tokenizer.ggml.scores[${bad}]`, 'is NaN');
  }
  const idField = (name: string, key: string, id: number | undefined) => {
    if (id !== undefined && !(Number.isInteger(id) && id >= 0 && id < n)) {
      throw modelError(key, `${name} id ${id} is outside the vocabulary of ${n}`);
    }
  };
  idField('BOS', 'tokenizer.ggml.bos_token_id', spec.bosId);
  idField('EOS', 'tokenizer.ggml.eos_token_id', spec.eosId);
  idField('EOT', 'tokenizer.ggml.eot_token_id', spec.eotId);
  idField('UNK', 'tokenizer.ggml.unknown_token_id', spec.unkId);
  idField('PAD', 'tokenizer.ggml.padding_token_id', spec.padId);
  spec.eogIds?.forEach((id, i) => idField('end-of-generation', `eog_ids[${i}]`, id));
  if (spec.addBos && spec.bosId === undefined) {
    throw modelError('tokenizer.ggml.bos_token_id', 'add_bos_token is set but there is no BOS token');
  }
  if (spec.addEos && spec.eosId === undefined) {
    throw modelError('tokenizer.ggml.eos_token_id', 'add_eos_token is set but there is no EOS token');
  }

  // Token types; a file without them marks its special ids as control, so they still parse and decode as such.
  const types = new Uint8Array(n).fill(TokenType.normal);
  if (spec.tokenTypes !== undefined) {
    for (let i = 0; i < n; i++) {
      const t = spec.tokenTypes[i]!;
      if (!(t >= 0 && t <= 6)) throw modelError(`tokenizer.ggml.token_type[${i}]`, `unknown token type ${t}`);
      types[i] = t === TokenType.undefined ? TokenType.normal : t;
    }
  } else {
    for (const id of [spec.bosId, spec.eosId, spec.eotId, spec.padId]) if (id !== undefined) types[id] = TokenType.control;
    if (spec.unkId !== undefined) types[spec.unkId] = TokenType.unknown;
    if (spec.model === 'llama') {
      for (let i = 0; i < n; i++) if (BYTE_TOKEN.test(spec.tokens[i]!)) types[i] = TokenType.byte;
    }
  }

  // Later duplicates win, as in llama.cpp's token_to_id map.
  const tokenToId = new Map<string, number>();
  const byteTokens = new Int32Array(256).fill(-1);
  const byteValue = new Int16Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const text = spec.tokens[i];
    if (typeof text !== 'string') throw modelError(`tokenizer.ggml.tokens[${i}]`, 'is not a string');
    tokenToId.set(text, i);
    if (types[i] === TokenType.byte) {
      // Byte tokens index a 256-entry table: anything but <0xHH> (e.g. <0x-1>, <0xZZ>) is rejected here.
      const m = BYTE_TOKEN.exec(text);
      if (m === null) throw modelError(`tokenizer.ggml.tokens[${i}]`, `byte token "${text}" is not of the form <0xHH>`);
      const b = parseInt(m[1]!, 16);
      byteValue[i] = b;
      byteTokens[b] = i;
    }
  }

  // Tokens matched atomically in the text, longest first (llama.cpp's cache_special_tokens).
  const specials: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = types[i];
    if ((t === TokenType.control || t === TokenType.userDefined || t === TokenType.unknown) && spec.tokens[i]!.length > 0) {
      specials.push(i);
    }
  }
  specials.sort((a, b) => spec.tokens[b]!.length - spec.tokens[a]!.length || a - b);

  const eog = new Set<number>();
  for (const id of [spec.eosId, spec.eotId, ...(spec.eogIds ?? [])]) if (id !== undefined) eog.add(id);
  for (let i = 0; i < n; i++) if (types[i] === TokenType.control && EOG_TEXTS.has(spec.tokens[i]!)) eog.add(i);
  return { size: n, types, tokenToId, byteTokens, byteValue, specials, eog };
}
