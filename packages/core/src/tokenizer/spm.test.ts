import { describe, expect, it } from 'vitest';
import type { TokenizerSpec } from './spec.js';
import { createTokenizer } from './tokenizer.js';

/**
 * A SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then pieces with scores (higher merges
 * first, as llama.cpp's llm_tokenizer_spm compares them).
 */
function spmSpec(pieces: [string, number][], extra: Partial<TokenizerSpec> = {}): TokenizerSpec {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
    scores.push(0);
  }
  for (const [text, score] of pieces) {
    tokens.push(text);
    types.push(1);
    scores.push(score);
  }
  return {
    model: 'llama',
    tokens,
    tokenTypes: Int32Array.from(types),
    scores: Float32Array.from(scores),
    bosId: 1,
    eosId: 2,
    unkId: 0,
    addBos: true,
    addEos: false,
    ...extra,
  };
}

const HELLO: [string, number][] = [
  ['▁', -1],
  ['h', -2],
  ['e', -2],
  ['l', -2],
  ['o', -2],
  ['he', -3],
  ['ll', -4],
  ['llo', -5],
  ['hello', -6],
  ['▁hello', -7],
  ['▁h', -8],
  ['el', -9],
];

function pieces(spec: TokenizerSpec, ids: number[]): string[] {
  return ids.map((id) => spec.tokens[id]!);
}

describe('llama (SentencePiece-style) tokenizer', () => {
  it('merges the highest-scoring pair first, with the dummy prefix', () => {
    // ▁ h e l l o: he (-3) beats ▁h (-8) and el (-9); then ll, llo, hello, ▁hello.
    const spec = spmSpec(HELLO);
    expect(pieces(spec, createTokenizer(spec).encode('hello'))).toEqual(['<s>', '▁hello']);
  });

  it('keeps the pieces it reached when no longer merge exists', () => {
    // ▁ he ll: neither "▁he" nor "hell" is a token, and ▁h lost to he.
    const spec = spmSpec(HELLO);
    expect(pieces(spec, createTokenizer(spec).encode('hell', { addBos: false }))).toEqual(['▁', 'he', 'll']);
  });

  it('orders by score, not by position, and takes the leftmost pair on equal scores', () => {
    const byScore = spmSpec([['▁', 0], ['a', 0], ['b', 0], ['c', 0], ['ab', -5], ['bc', -1]]);
    expect(pieces(byScore, createTokenizer(byScore).encode('abc', { addBos: false }))).toEqual(['▁', 'a', 'bc']);
    const tie = spmSpec([['▁', 0], ['a', 0], ['aa', -1]]);
    expect(pieces(tie, createTokenizer(tie).encode('aaa', { addBos: false }))).toEqual(['▁', 'aa', 'a']);
  });

  it('spells characters the vocabulary lacks with <0xXX> byte tokens and decodes them back', () => {
    const spec = spmSpec(HELLO);
    const tok = createTokenizer(spec);
    const ids = tok.encode('hé', { addBos: false });
    expect(pieces(spec, ids)).toEqual(['▁h', '<0xC3>', '<0xA9>']);
    expect(tok.decode(ids)).toBe(' hé');
  });

  it('turns spaces into ▁ and back', () => {
    const spec = spmSpec(HELLO);
    const tok = createTokenizer(spec);
    const ids = tok.encode('hello hello', { addBos: false });
    expect(pieces(spec, ids)).toEqual(['▁hello', '▁hello']);
    expect(tok.decode(ids)).toBe(' hello hello');
  });

  it('adds the dummy prefix after a special token, and not when add_space_prefix is off', () => {
    const spec = spmSpec(HELLO);
    expect(pieces(spec, createTokenizer(spec).encode('hello</s>hello', { parseSpecial: true }))).toEqual([
      '<s>',
      '▁hello',
      '</s>',
      '▁hello',
    ]);
    const bare = spmSpec(HELLO, { addSpacePrefix: false });
    expect(pieces(bare, createTokenizer(bare).encode('hello', { addBos: false }))).toEqual(['hello']);
  });

  it('falls back to <unk> when a byte has no token', () => {
    const spec = spmSpec(HELLO);
    const withoutA9 = { ...spec, tokens: spec.tokens.map((t) => (t === '<0xA9>' ? 'unused-a9' : t)) };
    const types = Int32Array.from(spec.tokenTypes!);
    types[withoutA9.tokens.indexOf('unused-a9')] = 5;
    const ids = createTokenizer({ ...withoutA9, tokenTypes: types }).encode('é', { addBos: false });
    expect(pieces(withoutA9, ids)).toEqual(['▁', '<0xC3>', '<unk>']);
  });

  it.each(['<0x-1>', '<0xZZ>', '<0x4>', '<0x123>', '0x41'])('rejects the malformed byte token %s, naming its index', (bad) => {
    const spec = spmSpec(HELLO);
    const at = spec.tokens.indexOf('<0x41>');
    const tokens = [...spec.tokens];
    tokens[at] = bad;
    expect(() => createTokenizer({ ...spec, tokens })).toThrowError(
      expect.objectContaining({ code: 'INVALID_MODEL_FILE', field: `tokenizer.ggml.tokens[${at}]` }),
    );
  });

  it('needs one score per token, none NaN', () => {
    const spec = spmSpec(HELLO);
    expect(() => createTokenizer({ ...spec, scores: spec.scores!.slice(2) })).toThrowError(
      expect.objectContaining({ code: 'INVALID_MODEL_FILE', field: 'tokenizer.ggml.scores' }),
    );
    const scores = Float32Array.from(spec.scores!);
    scores[262] = NaN;
    expect(() => createTokenizer({ ...spec, scores })).toThrowError(
      expect.objectContaining({ code: 'INVALID_MODEL_FILE', field: 'tokenizer.ggml.scores[262]' }),
    );
  });

  it('finds byte tokens by their spelling when the file has no token types', () => {
    const spec = spmSpec(HELLO, { tokenTypes: undefined });
    const tok = createTokenizer(spec);
    expect(pieces(spec, tok.encode('é', { addBos: false }))).toEqual(['▁', '<0xC3>', '<0xA9>']);
    expect(tok.decode(tok.encode('é'))).toBe(' é');
    expect(tok.isEndOfGeneration(2)).toBe(true);
  });
});
