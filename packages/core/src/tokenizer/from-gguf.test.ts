import { describe, expect, it } from 'vitest';
import { openGgufBytes } from '../formats/gguf/reader.js';
import type { GgufValue } from '../formats/gguf/types.js';
import { gv, writeGguf } from '../formats/gguf/writer.js';
import { buildDefaultTokenizerSpec } from './default.js';
import { tokenizerSpecFromGguf } from './from-gguf.js';
import { createTokenizer } from './tokenizer.js';

/** Writes the keys with Trine's GGUF writer and reads them back with its reader. */
async function roundTrip(keys: [string, GgufValue][]) {
  const file = await openGgufBytes(writeGguf(new Map([['general.architecture', gv.str('bitnet-b1.58')], ...keys]), []));
  try {
    return tokenizerSpecFromGguf(file.metadata);
  } finally {
    await file.close();
  }
}

const spmKeys = (): [string, GgufValue][] => [
  ['tokenizer.ggml.model', gv.str('llama')],
  ['tokenizer.ggml.tokens', gv.strs(['<unk>', '<s>', '</s>', '<0x41>', '▁', 'a', '▁a', '<|eom|>'])],
  ['tokenizer.ggml.token_type', gv.i32s(Int32Array.of(2, 3, 3, 6, 1, 1, 1, 3))],
  ['tokenizer.ggml.scores', gv.f32s(Float32Array.of(0, 0, 0, 0, -1, -2, -0.5, 0))],
  ['tokenizer.ggml.bos_token_id', gv.u32(1)],
  ['tokenizer.ggml.eos_token_id', gv.u32(2)],
  ['tokenizer.ggml.unknown_token_id', gv.u32(0)],
  ['tokenizer.ggml.eom_token_id', gv.u32(7)],
  ['tokenizer.ggml.add_space_prefix', gv.bool(true)],
];

describe('tokenizerSpecFromGguf', () => {
  it('reads back every key of the default tokenizer as written', async () => {
    const spec = buildDefaultTokenizerSpec();
    const keys: [string, GgufValue][] = [
      ['tokenizer.ggml.model', gv.str(spec.model)],
      ['tokenizer.ggml.pre', gv.str(spec.pre!)],
      ['tokenizer.ggml.tokens', gv.strs([...spec.tokens])],
      ['tokenizer.ggml.token_type', gv.i32s(spec.tokenTypes!)],
      ['tokenizer.ggml.merges', gv.strs([...spec.merges!])],
      ['tokenizer.ggml.bos_token_id', gv.u32(spec.bosId!)],
      ['tokenizer.ggml.eos_token_id', gv.u32(spec.eosId!)],
      ['tokenizer.ggml.eot_token_id', gv.u32(spec.eotId!)],
      ['tokenizer.ggml.add_bos_token', gv.bool(spec.addBos)],
      ['tokenizer.chat_template', gv.str(spec.chatTemplate!)],
    ];
    const back = await roundTrip(keys);
    expect({ ...back, tokenTypes: Array.from(back.tokenTypes!) }).toMatchObject({
      ...spec,
      tokens: [...spec.tokens],
      merges: [...spec.merges!],
      tokenTypes: Array.from(spec.tokenTypes!),
    });
    const text = 'Round trip through a real file.';
    expect(createTokenizer(back).encode(text)).toEqual(createTokenizer(spec).encode(text));
  });

  it('applies llama.cpp defaults for a SentencePiece vocabulary and reads the EOM token', async () => {
    const spec = await roundTrip(spmKeys());
    expect(spec.addBos).toBe(true);
    expect(spec.addEos).toBe(false);
    expect(spec.eogIds).toEqual([7]);
    const tok = createTokenizer(spec);
    expect(tok.encode('a a')).toEqual([1, 6, 6]);
    expect(tok.isEndOfGeneration(7)).toBe(true);
  });

  it('names the key when a value has the wrong type or is out of range', async () => {
    const withKey = (key: string, value: GgufValue) => spmKeys().map(([k, v]): [string, GgufValue] => [k, k === key ? value : v]);
    const fails = (keys: [string, GgufValue][], field: string) =>
      expect(roundTrip(keys)).rejects.toThrowError(expect.objectContaining({ code: 'INVALID_MODEL_FILE', field }));
    await fails(withKey('tokenizer.ggml.scores', { type: 'ARRAY', elementType: 'UINT8', value: new Uint8Array(8) }), 'tokenizer.ggml.scores');
    await fails(withKey('tokenizer.ggml.bos_token_id', gv.u32(8)), 'tokenizer.ggml.bos_token_id');
    await fails(withKey('tokenizer.ggml.model', gv.str('rwkv')), 'tokenizer.ggml.model');
    await fails(spmKeys().filter(([k]) => k !== 'tokenizer.ggml.tokens'), 'tokenizer.ggml.tokens');
  });
});
