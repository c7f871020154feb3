import { describe, expect, it } from 'vitest';
import { TrineError } from '../errors/index.js';
import { decodeTernaryCodes } from '../quant/ternary.js';
import { gv, writeGguf } from './gguf/writer.js';
import { openModel } from './open-model.js';
import { FIXTURE_NAMES, fixturePath, haveFixtures, readReference } from './test-support/fixtures.js';

describe.skipIf(!haveFixtures())('openModel on the shared fixtures', () => {
  for (const name of FIXTURE_NAMES) {
    it(`${name}: config, tokenizer and tensors as the README describes`, async () => {
      const ref = readReference(name);
      const m = await openModel(fixturePath(name));
      try {
        const tq = ref.ternary_type.startsWith('TQ');
        expect(m.format).toBe('gguf');
        expect(m.name).toBe('tiny-bitnet-b1.58-fixture');
        expect(m.config).toEqual({
          arch: ref.arch, hidden: 256, layers: 2, heads: 4, kvHeads: 2, headDim: 64, ffn: 768, vocab: 768, context: 256,
          ropeTheta: 500000, ropeDim: 64, rmsEps: Math.fround(1e-5),
          activation: ref.arch === 'bitnet' ? 'silu' : 'relu2', actQuant: tq ? 'per_block256' : 'per_token',
        });
        expect(m.tokenizer.model).toBe('gpt2');
        expect(m.tokenizer.tokens.length).toBe(ref.vocab.n_vocab);
        expect([m.tokenizer.bosId, m.tokenizer.eosId, m.tokenizer.eotId, m.tokenizer.addBos]).toEqual([ref.vocab.bos, ref.vocab.eos, ref.vocab.eot, ref.vocab.add_bos_token]);
        expect(m.tokenizer.chatTemplate).toBe(ref.chat.template);
        expect(m.tokenizer.merges?.length).toBe(507);
        expect(m.tensors.length).toBe(24);
        expect(m.weightBytes).toBe(ref.tensors.reduce((a, t) => a + t.nbytes, 0));
        expect(m.hasTensor('output.weight')).toBe(false);

        const embd = await m.readMatrix('token_embd.weight');
        expect([embd.dtype, embd.shape]).toEqual(['f16', [768, 256]]);
        const norm = await m.readF32('blk.1.ffn_sub_norm.weight');
        expect([norm.dtype, norm.shape, norm.data.length]).toEqual(['f32', [768], 768]);
        expect(norm.data.every((x) => Math.abs(x - 1) < 0.6)).toBe(true); // 1 + 0.1·N(0,1)

        const down = await m.readTernary('blk.0.ffn_down.weight');
        expect([down.rows, down.cols, down.granularity]).toEqual([256, 768, tq ? 'block256' : 'tensor']);
        expect(down.scales.length).toBe(tq ? 256 * 3 : 1);
        const r = ref.ternary_tensors.find((t) => t.name === 'blk.0.ffn_down.weight')!;
        expect(Array.from(decodeTernaryCodes(down).subarray(0, 16))).toEqual(r.first_16_codes);
      } finally {
        await m.close();
      }
    });
  }

  it('rejects a model over the memory budget, and unknown paths', async () => {
    const e1 = await openModel(fixturePath('tiny-bitnet-tq2_0'), { memoryBudgetBytes: 1 << 19 }).catch((e: unknown) => e);
    expect(TrineError.is(e1, 'BUDGET_EXCEEDED')).toBe(true);
    const e2 = await openModel('/nonexistent/model.gguf').catch((e: unknown) => e);
    expect(TrineError.is(e2, 'NOT_FOUND')).toBe(true);
  });
});

describe('openModel input checks', () => {
  it('rejects bytes that are not GGUF, and a GGUF of another architecture', async () => {
    const e1 = await openModel(new Uint8Array([1, 2, 3, 4, 5])).catch((e: unknown) => e);
    expect(TrineError.is(e1, 'INVALID_MODEL_FILE')).toBe(true);
    const llama = writeGguf([['general.architecture', gv.str('llama')]], []);
    const e2 = await openModel(llama).catch((e: unknown) => e);
    expect(TrineError.is(e2, 'UNSUPPORTED')).toBe(true);
    expect((e2 as TrineError).field).toBe('general.architecture');
  });
});
