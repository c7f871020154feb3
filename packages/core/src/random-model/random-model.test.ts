import { describe, expect, it } from 'vitest';
import { openGgufBytes } from '../formats/gguf/index.js';
import { buildRandomBitnetGguf, seededWeights, WeightRng, defaultTokenizerWithVocab, randomBitnetLayout } from './index.js';

describe('WeightRng', () => {
  it('draws all three ternary codes about equally', () => {
    const codes = new Int8Array(30_000);
    new WeightRng(1).fillTernary(codes);
    for (const c of [-1, 0, 1]) {
      const share = codes.filter((x) => x === c).length / codes.length;
      expect(Math.abs(share - 1 / 3)).toBeLessThan(0.02);
    }
  });
});

describe('defaultTokenizerWithVocab', () => {
  it('marks fillers and specials as control tokens and keeps bytes and merges normal', () => {
    const t = defaultTokenizerWithVocab(2000);
    expect(t.tokens).toHaveLength(2000);
    expect(t.tokens[t.eotId!]).toBe('<|eot_id|>');
    expect(t.tokenTypes![0]).toBe(1);
    expect(t.tokenTypes![1500]).toBe(3);
    expect(t.tokens[1500]).toMatch(/^<\|reserved_\d+\|>$/);
    expect(() => defaultTokenizerWithVocab(100)).toThrow(/vocab/);
  });
});

describe('random BitNet builder', () => {
  const config = {
    arch: 'bitnet', hidden: 256, layers: 2, heads: 4, kvHeads: 1, ffn: 512, context: 32, ternary: 'TQ1_0',
    tokenizer: defaultTokenizerWithVocab(960), name: 'builder-test', scaleTensors: true,
  } as const;

  it('writes the layout it describes: a scale tensor after each projection when asked', async () => {
    const file = await openGgufBytes(buildRandomBitnetGguf(config, seededWeights(3)));
    const layout = randomBitnetLayout(config);
    expect(file.tensors.map((t) => [t.name, t.type])).toEqual(layout.tensors.map((t) => [t.name, t.type]));
    expect(file.tensor('blk.1.attn_q.scale')?.ne).toEqual([1]);
    expect(file.tensor('blk.1.ffn_down.weight')?.type).toBe('TQ1_0');
    expect(file.metadata.get('bitnet.vocab_size')?.value).toBe(960);
    expect(file.metadata.has('general.file_type')).toBe(false);
  });

  it('refuses tokenizer keys without a token list, naming the field', () => {
    expect(() => randomBitnetLayout({ ...config, tokenizer: [] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'tokenizer' }));
  });
});
