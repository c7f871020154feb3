import { TrineError, invalidArgument } from '../errors/index.js';
import { partitionSpecial } from './special.js';
import { TokenType, analyzeVocab, modelError, type Vocab } from './vocab.js';
import type { TokenizerSpec } from './spec.js';
import { BpeMerger, parseMerge } from './bpe.js';
import { fromByteLevel } from './byte-level.js';
import { preTokenize, preTokenizerFor } from './pretokenize.js';
import { SPM_SPACE, SpmMerger } from './spm.js';

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

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

type FragmentEncoder = (text: string, out: number[], afterSpecial: boolean) => void;

/** Encodes plain text (no special tokens in it) with the spec's model. */
function fragmentEncoder(spec: TokenizerSpec, vocab: Vocab): FragmentEncoder {
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
    const merger = new BpeMerger(ranks, vocab.tokenToId, pre.ignoreMerges);
    return (text, out) => {
      for (const piece of preTokenize(text, pre)) merger.encodePiece(piece, out);
    };
  }
  const merger = new SpmMerger(vocab.tokenToId, spec.scores, vocab.byteTokens, spec.unkId);
  const addSpacePrefix = spec.addSpacePrefix ?? true;
  return (text, out, afterSpecial) => {
    // llama.cpp: a space before text at the start and after each special token, then spaces spelled ▁.
    const escaped = (addSpacePrefix && afterSpecial ? ' ' + text : text).replaceAll(' ', SPM_SPACE);
    if (!merger.encode(escaped, out)) {
      throw new TrineError('UNSUPPORTED', 'text: holds a character this vocabulary has neither a token nor byte tokens for', {
        field: 'text',
      });
    }
  };
}

export function createTokenizer(spec: TokenizerSpec): Tokenizer {
  const vocab = analyzeVocab(spec);
  const { size: n, types, byteValue, eog } = vocab;
  const encodeFragment = fragmentEncoder(spec, vocab);
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
        for (const f of partitionSpecial(text, spec.tokens, vocab, options.parseSpecial ?? false)) {
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
