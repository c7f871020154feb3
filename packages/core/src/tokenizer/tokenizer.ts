import { TrineError, invalidArgument } from '../errors/index.js';
import type { TokenizerSpec } from './spec.js';
import { BpeMerger, parseMerge } from './bpe.js';
import { fromByteLevel } from './byte-level.js';
import { preTokenize, preTokenizerFor } from './pretokenize.js';
import { SPM_SPACE, SpmMerger } from './spm.js';

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

export interface EncodeOptions {
  /** Prepend BOS. Default: the spec's `addBos` (`tokenizer.ggml.add_bos_token`). */
  addBos?: boolean;
  /** Append EOS. Default: the spec's `addEos`. */
  addEos?: boolean;
  /**
   * Match control and unknown tokens (e.g. `<|eot_id|>`) in the text as single tokens. Default false: user text
   * cannot inject them. User-defined tokens are always matched, as llama.cpp does.
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Spell control and unknown tokens (`<|eot_id|>`); by default they decode to nothing. */
  renderSpecial?: boolean;
}

export interface StreamDecoder {
  /** Adds one token; returns the text that became complete (never part of a UTF-8 character). */
  push(id: number): string;
  /** Ends the stream: any incomplete trailing bytes come out as U+FFFD. */
  flush(): string;
}

export interface Tokenizer {
  readonly spec: TokenizerSpec;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  /** Every token that ends generation (EOS, EOT, and control tokens llama.cpp treats as such), ascending. */
  readonly eosIds: readonly number[];
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  decodeBytes(ids: readonly number[], options?: DecodeOptions): Uint8Array;
  streamDecoder(options?: DecodeOptions): StreamDecoder;
  isEndOfGeneration(id: number): boolean;
  /** The bytes one token decodes to. */
  pieceBytes(id: number, options?: DecodeOptions): Uint8Array;
}

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

function modelError(field: string, problem: string): TrineError {
  return new TrineError('INVALID_MODEL_FILE', `${field}: ${problem}`, { field });
}

type Fragment = string | number;

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

export function createTokenizer(spec: TokenizerSpec): Tokenizer {
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

  let encodeFragment: (text: string, out: number[], afterSpecial: boolean) => void;
  if (spec.model === 'gpt2') {
    if (spec.merges === undefined) throw modelError('tokenizer.ggml.merges', 'a gpt2 tokenizer needs merges');
    const ranks = new Map<string, number>();
    spec.merges.forEach((merge, rank) => {
      const pair = typeof merge === 'string' ? parseMerge(merge) : undefined;
      if (pair === undefined) throw modelError(`tokenizer.ggml.merges[${rank}]`, `"${merge}" is not "left right"`);
      const key = `${pair[0]} ${pair[1]}`;
      if (!ranks.has(key)) ranks.set(key, rank);
    });
    const pre = preTokenizerFor(spec.pre);
    const merger = new BpeMerger(ranks, tokenToId, pre.ignoreMerges);
    encodeFragment = (text, out) => {
      for (const piece of preTokenize(text, pre)) merger.encodePiece(piece, out);
    };
  } else {
    const merger = new SpmMerger(tokenToId, spec.scores, byteTokens, spec.unkId);
    const addSpacePrefix = spec.addSpacePrefix ?? true;
    encodeFragment = (text, out, afterSpecial) => {
      const escaped = (addSpacePrefix && afterSpecial ? ' ' + text : text).replaceAll(' ', SPM_SPACE);
      if (!merger.encode(escaped, out)) {
        throw new TrineError('UNSUPPORTED', 'text: holds a character this vocabulary has neither a token nor byte tokens for', {
          field: 'text',
        });
      }
    };
  }

  /** Splits text around special tokens (llama.cpp's tokenizer_st_partition). */
  const partition = (text: string, parseSpecial: boolean): Fragment[] => {
    let fragments: Fragment[] = [text];
    for (const id of specials) {
      if (!parseSpecial && types[id] !== TokenType.userDefined) continue;
      const needle = spec.tokens[id]!;
      const next: Fragment[] = [];
      for (const f of fragments) {
        if (typeof f === 'number' || !f.includes(needle)) {
          next.push(f);
          continue;
        }
        let from = 0;
        for (let at = f.indexOf(needle); at >= 0; at = f.indexOf(needle, from)) {
          if (at > from) next.push(f.slice(from, at));
          next.push(id);
          from = at + needle.length;
        }
        if (from < f.length) next.push(f.slice(from));
      }
      fragments = next;
    }
    return fragments;
  };

  const eog = new Set<number>();
  for (const id of [spec.eosId, spec.eotId, ...(spec.eogIds ?? [])]) if (id !== undefined) eog.add(id);
  for (let i = 0; i < n; i++) if (types[i] === TokenType.control && EOG_TEXTS.has(spec.tokens[i]!)) eog.add(i);
  const eosIds = [...eog].sort((a, b) => a - b);

  const plain: (Uint8Array | undefined)[] = new Array(n);
  const pieceBytes = (id: number, renderSpecial: boolean): Uint8Array => {
    const t = types[id]!;
    const text = spec.tokens[id]!;
    if (t === TokenType.control || t === TokenType.unknown) return renderSpecial ? utf8.encode(text) : EMPTY;
    let piece = plain[id];
    if (piece === undefined) {
      if (t === TokenType.userDefined) piece = utf8.encode(text);
      else if (t === TokenType.byte) piece = Uint8Array.of(byteValue[id]!);
      else if (t === TokenType.normal) {
        piece = spec.model === 'gpt2' ? fromByteLevel(text) : utf8.encode(text.replaceAll(SPM_SPACE, ' '));
      } else piece = EMPTY; // unused
      plain[id] = piece;
    }
    return piece;
  };
  const checkId = (id: number, field: string) => {
    if (!(Number.isInteger(id) && id >= 0 && id < n)) throw invalidArgument(field, `token id ${id} is outside the vocabulary of ${n}`);
  };

  const decodeBytes = (ids: readonly number[], options: DecodeOptions = {}): Uint8Array => {
    const parts: Uint8Array[] = [];
    let total = 0;
    ids.forEach((id, i) => {
      checkId(id, `ids[${i}]`);
      const p = pieceBytes(id, options.renderSpecial ?? false);
      parts.push(p);
      total += p.length;
    });
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };

  return {
    spec,
    vocabSize: n,
    bosId: spec.bosId,
    eosIds,
    encode(text, options = {}) {
      if (typeof text !== 'string') throw invalidArgument('text', 'must be a string');
      const addBos = options.addBos ?? spec.addBos;
      const addEos = options.addEos ?? spec.addEos;
      const out: number[] = [];
      if (addBos) {
        if (spec.bosId === undefined) throw invalidArgument('addBos', 'this tokenizer has no BOS token');
        out.push(spec.bosId);
      }
      let afterSpecial = true;
      if (text.length > 0) {
        for (const f of partition(text, options.parseSpecial ?? false)) {
          if (typeof f === 'number') {
            out.push(f);
            afterSpecial = true;
          } else {
            encodeFragment(f, out, afterSpecial);
            afterSpecial = false;
          }
        }
      }
      if (addEos) {
        if (spec.eosId === undefined) throw invalidArgument('addEos', 'this tokenizer has no EOS token');
        out.push(spec.eosId);
      }
      return out;
    },
    decodeBytes,
    decode(ids, options) {
      return new TextDecoder('utf-8').decode(decodeBytes(ids, options));
    },
    streamDecoder(options = {}) {
      // TextDecoder in stream mode holds back an incomplete sequence and replaces invalid bytes at once.
      const decoder = new TextDecoder('utf-8');
      let count = 0;
      return {
        push(id) {
          checkId(id, `ids[${count++}]`);
          return decoder.decode(pieceBytes(id, options.renderSpecial ?? false), { stream: true });
        },
        flush() {
          return decoder.decode();
        },
      };
    },
    isEndOfGeneration(id) {
      return eog.has(id);
    },
    pieceBytes(id, options = {}) {
      checkId(id, 'id');
      return pieceBytes(id, options.renderSpecial ?? false);
    },
  };
}
