import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TrineError } from '../errors/index.js';
import { BYTE_TO_CHAR, toByteLevel } from './byte-level.js';
import { BpeMerger, parseMerge } from './bpe.js';
import { preTokenize, preTokenizerFor } from './pretokenize.js';
import type { TokenizerSpec } from './spec.js';
import { createTokenizer } from './tokenizer.js';

/** A byte-level vocabulary: the 256 byte characters, one token per merge result, then the given special tokens. */
function handSpec(merges: string[], specials: [string, number][] = [], extra: Partial<TokenizerSpec> = {}): TokenizerSpec {
  const tokens = [...BYTE_TO_CHAR];
  for (const m of merges) {
    const merged = m.replace(' ', '');
    if (!tokens.includes(merged)) tokens.push(merged);
  }
  const types = new Array<number>(tokens.length).fill(1);
  for (const [text, type] of specials) {
    tokens.push(text);
    types.push(type);
  }
  return { model: 'gpt2', pre: 'llama-bpe', tokens, tokenTypes: Int32Array.from(types), merges, addBos: false, addEos: false, ...extra };
}

function pieces(spec: TokenizerSpec, ids: number[]): string[] {
  return ids.map((id) => spec.tokens[id]!);
}

describe('LLaMA-3 pre-tokenizer (llama-bpe)', () => {
  const pre = preTokenizerFor('llama-bpe');
  it.each([
    ["It's DON'T we'LL I'M", ['It', "'s", ' DON', "'T", ' we', "'LL", ' I', "'M"]],
    ['12345 1.5e10', ['123', '45', ' ', '1', '.', '5', 'e', '10']],
    ['  hello  world\n\n  x', [' ', ' hello', ' ', ' world', '\n\n', ' ', ' x']],
    ['a\r\n\r\nb', ['a', '\r\n\r\n', 'b']],
    ['!!!\n\nfoo', ['!!!\n\n', 'foo']],
    ['x  \ty', ['x', '  ', '\ty']],
    ['$100', ['$', '100']],
    ['naïve café 日本', ['naïve', ' café', ' 日本']],
    ['end   ', ['end', '   ']],
  ])('splits %j', (text, expected) => {
    expect(preTokenize(text, pre)).toEqual(expected);
  });

  it('covers every character of any text, in order', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(preTokenize(text, pre).join('')).toBe(text);
      }),
    );
  });

  it('rejects pre-tokenizers it does not implement', () => {
    expect(() => preTokenizerFor('qwen2')).toThrowError(expect.objectContaining({ code: 'UNSUPPORTED', field: 'tokenizer.ggml.pre' }));
  });
});

describe('gpt2 (byte-level BPE) tokenizer', () => {
  it('merges by rank, not by position', () => {
    const a = handSpec(['l l', 'e l']);
    expect(pieces(a, createTokenizer(a).encode('ell'))).toEqual(['e', 'll']);
    const b = handSpec(['e l', 'l l']);
    expect(pieces(b, createTokenizer(b).encode('ell'))).toEqual(['el', 'l']);
  });

  it('takes the leftmost pair when ranks tie', () => {
    const spec = handSpec(['a a']);
    expect(pieces(spec, createTokenizer(spec).encode('aaa'))).toEqual(['aa', 'a']);
    expect(pieces(spec, createTokenizer(spec).encode('aaaa'))).toEqual(['aa', 'aa']);
  });

  it('merges inside each pre-token only, with spaces spelled Ġ', () => {
    const spec = handSpec(['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'Ġw or', 'Ġwor l', 'Ġworl d', 'o Ġ']);
    expect(pieces(spec, createTokenizer(spec).encode('hello world'))).toEqual(['hello', 'Ġworld']);
  });

  it('emits a whole pre-token that is a token without merging (LLaMA-3 ignore_merges), only for llama-bpe', () => {
    const base = handSpec(['x y']);
    const spec = { ...base, tokens: [...base.tokens, 'xyz'], tokenTypes: Int32Array.from([...base.tokenTypes!, 1]) };
    expect(pieces(spec, createTokenizer(spec).encode('xyz'))).toEqual(['xyz']);
    const gpt2 = { ...spec, pre: 'gpt-2' };
    expect(pieces(gpt2, createTokenizer(gpt2).encode('xyz'))).toEqual(['xy', 'z']);
  });

  it('matches control tokens only when parseSpecial is on, longest first; user-defined tokens always', () => {
    const spec = handSpec([], [
      ['<|end|>', 3],
      ['<|end|>!', 3],
      ['<tool>', 4],
    ]);
    const tok = createTokenizer(spec);
    const id = (t: string) => spec.tokens.indexOf(t);
    expect(tok.encode('a<|end|>!b', { parseSpecial: true })).toEqual([id('a'), id('<|end|>!'), id('b')]);
    expect(tok.encode('a<|end|>b', { parseSpecial: true })).toEqual([id('a'), id('<|end|>'), id('b')]);
    expect(tok.encode('a<|end|>b')).not.toContain(id('<|end|>'));
    expect(tok.encode('x<tool>y')).toEqual([id('x'), id('<tool>'), id('y')]);
  });

  it('adds BOS and EOS as asked, defaulting to the spec', () => {
    const base = handSpec([], [['<s>', 3], ['</s>', 3]]);
    const bos = base.tokens.indexOf('<s>');
    const eos = base.tokens.indexOf('</s>');
    const spec = { ...base, bosId: bos, eosId: eos, addBos: true };
    const tok = createTokenizer(spec);
    expect(tok.encode('')).toEqual([bos]);
    expect(tok.encode('a')).toEqual([bos, spec.tokens.indexOf('a')]);
    expect(tok.encode('a', { addBos: false, addEos: true })).toEqual([spec.tokens.indexOf('a'), eos]);
  });

  it('decodes control tokens to nothing unless asked to render them', () => {
    const spec = handSpec([], [['<|eot_id|>', 3]]);
    const tok = createTokenizer(spec);
    const ids = tok.encode('hi<|eot_id|>', { parseSpecial: true });
    expect(tok.decode(ids)).toBe('hi');
    expect(tok.decode(ids, { renderSpecial: true })).toBe('hi<|eot_id|>');
    expect(tok.isEndOfGeneration(ids[ids.length - 1]!)).toBe(true);
  });

  it('rejects malformed vocabularies with the key named', () => {
    const spec = handSpec(['a b']);
    const fails = (s: TokenizerSpec, field: string) =>
      expect(() => createTokenizer(s)).toThrowError(expect.objectContaining({ code: 'INVALID_MODEL_FILE', field }));
    fails({ ...spec, merges: undefined }, 'tokenizer.ggml.merges');
    fails({ ...spec, merges: ['a b', 'ab'] }, 'tokenizer.ggml.merges[1]');
    fails({ ...spec, tokenTypes: spec.tokenTypes!.slice(1) }, 'tokenizer.ggml.token_type');
    const badType = Int32Array.from(spec.tokenTypes!);
    badType[7] = 42;
    fails({ ...spec, tokenTypes: badType }, 'tokenizer.ggml.token_type[7]');
    fails({ ...spec, bosId: spec.tokens.length }, 'tokenizer.ggml.bos_token_id');
    fails({ ...spec, addBos: true }, 'tokenizer.ggml.bos_token_id');
    fails({ ...spec, tokens: [] }, 'tokenizer.ggml.tokens');
  });

  it('rejects token ids outside the vocabulary when decoding', () => {
    const tok = createTokenizer(handSpec([]));
    const err = (() => {
      try {
        tok.decode([1, 9999]);
      } catch (e) {
        return e;
      }
    })();
    expect(TrineError.is(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as TrineError).field).toBe('ids[1]');
    expect(() => tok.streamDecoder().push(-1)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('agrees with a plain lowest-rank-first merge loop on random words', () => {
    // The heap with stale-entry checks must give what the textbook loop gives: merge the lowest-ranked adjacent
    // pair (leftmost on ties) until none is left.
    const letters = ['a', 'b', 'c', 'd'];
    const allPairs = letters.flatMap((l) => letters.map((r) => `${l} ${r}`));
    fc.assert(
      fc.property(
        fc.shuffledSubarray(allPairs, { minLength: 1 }),
        fc.array(fc.constantFrom(...letters), { minLength: 1, maxLength: 40 }),
        (firstMerges, chars) => {
          // Second-level merges of the first-level results make longer tokens reachable.
          const merged = firstMerges.map((m) => m.replace(' ', ''));
          const merges = [...firstMerges, ...merged.slice(0, 4).map((m, i) => `${m} ${merged[(i + 1) % merged.length]}`)];
          const spec = handSpec(merges);
          const ranks = new Map(merges.map((m, i) => [m, i] as [string, number]));
          const toId = new Map(spec.tokens.map((t, i) => [t, i] as [string, number]));
          const out: number[] = [];
          new BpeMerger(ranks, toId, false).encodeWord(chars.join(''), out);

          const syms = [...chars];
          for (;;) {
            let best = -1;
            let bestRank = Infinity;
            for (let i = 0; i + 1 < syms.length; i++) {
              const r = ranks.get(`${syms[i]} ${syms[i + 1]}`);
              if (r !== undefined && r < bestRank) {
                bestRank = r;
                best = i;
              }
            }
            if (best < 0) break;
            syms.splice(best, 2, syms[best]! + syms[best + 1]!);
          }
          expect(out.map((id) => spec.tokens[id])).toEqual(syms);
        },
      ),
    );
  });

  it('parses merges at the first space after the first character', () => {
    expect(parseMerge('Ġ t')).toEqual(['Ġ', 't']);
    expect(parseMerge('ab cd')).toEqual(['ab', 'cd']);
    expect(parseMerge('abc')).toBeUndefined();
  });

  it('spells bytes with the GPT-2 table', () => {
    expect(toByteLevel(' \n!')).toBe('ĠĊ!');
    // The 68 unprintable bytes take U+0100 + n in byte order: 0x00–0x20 are n 0–32, 0x7F–0xA0 are 33–66, 0xAD is 67.
    expect(BYTE_TO_CHAR[0x7f]).toBe('\u0121');
    expect(BYTE_TO_CHAR[0xad]).toBe('\u0143');
    expect(BYTE_TO_CHAR[0xae]).toBe('\u00ae');
  });
});
