import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BYTE_TO_CHAR } from './byte-level.js';
import { buildDefaultTokenizerSpec } from './default.js';
import type { TokenizerSpec } from './spec.js';
import { createTokenizer } from './tokenizer.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The 256 byte tokens (ids = GPT-2 table order by byte value) plus one control token. */
const bytesSpec: TokenizerSpec = {
  model: 'gpt2',
  pre: 'llama-bpe',
  tokens: [...BYTE_TO_CHAR, '<|eot_id|>'],
  tokenTypes: Int32Array.from({ length: 257 }, (_, i) => (i === 256 ? 3 : 1)),
  merges: [],
  eotId: 256,
  addBos: false,
  addEos: false,
};
const byteId = (b: number) => b; // token i spells byte i in this vocabulary

describe('streaming decode', () => {
  it('holds back a character split across tokens until it is complete', () => {
    const s = createTokenizer(bytesSpec).streamDecoder();
    // 日 is E6 97 A5; 😀 is F0 9F 98 80 (a surrogate pair in JS).
    expect([0xe6, 0x97, 0xa5].map((b) => s.push(byteId(b)))).toEqual(['', '', '日']);
    expect([0xf0, 0x9f, 0x98, 0x80].map((b) => s.push(byteId(b)))).toEqual(['', '', '', '😀']);
    expect(s.flush()).toBe('');
  });

  it('replaces bytes that cannot start or continue a character at once', () => {
    const s = createTokenizer(bytesSpec).streamDecoder();
    expect(s.push(byteId(0xff))).toBe('\uFFFD');
    expect(s.push(byteId(0xc3))).toBe('');
    expect(s.push(byteId(0x41))).toBe('\uFFFDA');
  });

  it('flushes an incomplete tail as U+FFFD', () => {
    const s = createTokenizer(bytesSpec).streamDecoder();
    expect(s.push(byteId(0xe6))).toBe('');
    expect(s.push(byteId(0x97))).toBe('');
    expect(s.flush()).toBe('\uFFFD');
  });

  it('drops control tokens unless asked to render them', () => {
    const tok = createTokenizer(bytesSpec);
    const plain = tok.streamDecoder();
    expect(plain.push(byteId(0x68)) + plain.push(256) + plain.push(byteId(0x69))).toBe('hi');
    const shown = tok.streamDecoder({ renderSpecial: true });
    expect(shown.push(byteId(0x68)) + shown.push(256)).toBe('h<|eot_id|>');
  });

  it('concatenates to decode(ids) for any token sequence, never splitting a character', () => {
    const tok = createTokenizer(buildDefaultTokenizerSpec());
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: tok.vocabSize - 1 }), { maxLength: 64 }), (ids) => {
        const s = tok.streamDecoder();
        const deltas = ids.map((id) => s.push(id));
        deltas.push(s.flush());
        expect(deltas.join('')).toBe(tok.decode(ids));
        for (const d of deltas) expect(d).not.toMatch(LONE_SURROGATE);
      }),
    );
  });

  it('returns the exact bytes of the pieces from decodeBytes', () => {
    const tok = createTokenizer(bytesSpec);
    expect(Array.from(tok.decodeBytes([0xe6, 0x97, 256, 0x41]))).toEqual([0xe6, 0x97, 0x41]);
    expect(tok.decode([0xe6, 0x97, 0x41])).toBe('\uFFFDA');
  });
});
