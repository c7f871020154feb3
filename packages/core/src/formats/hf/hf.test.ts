import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TrineError } from '../../errors/index.js';
import { decodeTernaryCodes } from '../../quant/ternary.js';
import { openModel } from '../open-model.js';
import { openSafetensors, writeSafetensors } from '../safetensors/index.js';
import { fixturePath, haveFixtures, readReference } from '../test-support/fixtures.js';
import { buildTinyModel } from '../test-support/tiny-model.js';
import { ggufToHfName, hfToGgufName } from './names.js';
import { hfPackedToI2S, packHfTernary, unpackHfTernary } from './packing.js';
import { encodeI2S } from '../../quant/i2s.js';
import { tokenizerSpecFromHfJson } from './tokenizer.js';
import { writeHfDirectory } from './writer.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'trine-hf-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('HF packing and names', () => {
  it('packs rows (j, j+out/4, j+out/2, j+3out/4) = (+1, 0, −1, +1) into byte 0x86', () => {
    const rows = 8, cols = 3;
    const codes = new Int8Array(rows * cols);
    codes[0 * cols + 1] = 1; codes[2 * cols + 1] = 0; codes[4 * cols + 1] = -1; codes[6 * cols + 1] = 1;
    const packed = packHfTernary(codes, rows, cols);
    expect(packed.length).toBe(6);
    expect(packed[1]).toBe(0x86);
    expect(unpackHfTernary(packed, rows, cols)).toEqual(codes);
    packed[0] = 0xff;
    expect(() => unpackHfTernary(packed, rows, cols)).toThrow(/code 3/);
  });

  it('transcodes HF packed bytes straight to the same I2_S bytes as encoding the codes', () => {
    const rows = 12, cols = 256;
    const codes = Int8Array.from({ length: rows * cols }, (_, i) => ((i * 2654435761) >>> 7) % 3 - 1);
    const packed = packHfTernary(codes, rows, cols);
    expect(hfPackedToI2S(packed, rows, cols)).toEqual(encodeI2S(codes, 1).subarray(0, (rows * cols) / 4));
    packed[40] = 0x0c; // code 3 in the second pair
    expect(() => hfPackedToI2S(packed, rows, cols, 'w')).toThrow(/code 3/);
  });

  it('maps HF names to GGUF names and back', () => {
    const pairs = [
      ['model.embed_tokens.weight', 'token_embd.weight'], ['model.norm.weight', 'output_norm.weight'],
      ['model.layers.12.self_attn.q_proj.weight', 'blk.12.attn_q.weight'], ['model.layers.0.self_attn.o_proj.weight', 'blk.0.attn_output.weight'],
      ['model.layers.3.mlp.down_proj.weight', 'blk.3.ffn_down.weight'], ['model.layers.3.mlp.ffn_sub_norm.weight', 'blk.3.ffn_sub_norm.weight'],
      ['model.layers.1.input_layernorm.weight', 'blk.1.attn_norm.weight'], ['model.layers.1.post_attention_layernorm.weight', 'blk.1.ffn_norm.weight'],
    ];
    for (const [hf, g] of pairs) {
      expect(hfToGgufName(hf!)).toBe(g);
      expect(ggufToHfName(g!)).toBe(hf);
    }
    expect(hfToGgufName('model.layers.0.self_attn.rotary_emb.inv_freq')).toBeUndefined();
  });
});

describe('tokenizerSpecFromHfJson', () => {
  const tok = {
    model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: [['a', 'b']] },
    added_tokens: [{ id: 3, content: '<|begin_of_text|>', special: true }, { id: 4, content: '<|eot_id|>', special: true }],
    pre_tokenizer: { type: 'ByteLevel' },
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }] },
  };
  it('builds tokens, types, merges, special ids, BOS from the post-processor and the chat template', () => {
    const spec = tokenizerSpecFromHfJson(tok, { bos_token: { content: '<|begin_of_text|>' }, eos_token: '<|eot_id|>', chat_template: 'T' }, { eos_token_id: [4] });
    expect(spec.tokens).toEqual(['a', 'b', 'ab', '<|begin_of_text|>', '<|eot_id|>']);
    expect(Array.from(spec.tokenTypes!)).toEqual([1, 1, 1, 3, 3]);
    expect(spec.merges).toEqual(['a b']);
    expect([spec.bosId, spec.eosId, spec.eotId, spec.addBos, spec.chatTemplate, spec.eogIds]).toEqual([3, 4, 4, true, 'T', [4]]);
  });
  it('rejects id gaps, id clashes and unknown special tokens with the field', () => {
    const gap = { ...tok, model: { ...tok.model, vocab: { a: 0, b: 5 } } };
    expect(() => tokenizerSpecFromHfJson(gap)).toThrow(/not contiguous/);
    const clash = { ...tok, added_tokens: [{ id: 1, content: 'zz', special: true }] };
    expect(() => tokenizerSpecFromHfJson(clash)).toThrow(/id 1 is both/);
    const e = (() => { try { tokenizerSpecFromHfJson(tok, { bos_token: 'nope' }); } catch (x) { return x; } })();
    expect(TrineError.is(e, 'INVALID_MODEL_FILE') && e.field).toBe('tokenizer_config.json.bos_token');
    expect(() => tokenizerSpecFromHfJson({ ...tok, model: { type: 'Unigram' } })).toThrow(TrineError);
  });
});

describe('safetensors', () => {
  it('round-trips tensors and metadata', async () => {
    const a = Uint8Array.of(1, 2, 3, 4), b = new Uint8Array(Float32Array.of(1.5, -2).buffer);
    const file = writeSafetensors([{ name: 'a', dtype: 'U8', shape: [2, 2], data: a }, { name: 'b', dtype: 'F32', shape: [2], data: b }], { format: 'pt' });
    const st = await openSafetensors(file);
    expect((8 + st.headerSize) % 8).toBe(0);
    expect(st.metadata.get('format')).toBe('pt');
    expect(await st.readTensor('a')).toEqual(a);
    expect(await st.readTensor('b')).toEqual(b);
    expect(st.tensor('b')).toMatchObject({ dtype: 'F32', shape: [2], elements: 2, byteSize: 8 });
  });
});

describe('Hugging Face directories', () => {
  it('refuses to write TQ tensors whose block scales differ as one weight_scale', async () => {
    const gguf = await openModel(buildTinyModel({ ternary: 'TQ2_0', seed: 5 }).bytes);
    await expect(writeHfDirectory(path.join(tmp, 'tq'), gguf)).rejects.toThrow(/per-block scales/);
  });

  for (const ternary of ['I2_S'] as const) {
    it(`a ${ternary} GGUF written as an HF directory loads with the same config, tokenizer and codes`, async () => {
      const tiny = buildTinyModel({ ternary, layers: 2, seed: 11 });
      const gguf = await openModel(tiny.bytes);
      const dir = path.join(tmp, `tiny-${ternary}`);
      await writeHfDirectory(dir, gguf);
      const hf = await openModel(dir);
      expect(hf.format).toBe('hf');
      expect(hf.config).toEqual(gguf.config);
      expect(hf.tokenizer.tokens).toEqual(gguf.tokenizer.tokens);
      expect(hf.tokenizer.merges).toEqual(gguf.tokenizer.merges);
      expect([hf.tokenizer.bosId, hf.tokenizer.eosId, hf.tokenizer.addBos, hf.tokenizer.chatTemplate])
        .toEqual([gguf.tokenizer.bosId, gguf.tokenizer.eosId, gguf.tokenizer.addBos, gguf.tokenizer.chatTemplate]);
      for (const [name, want] of tiny.ternary) {
        const t = await hf.readTernary(name);
        expect(decodeTernaryCodes(t), name).toEqual(want.codes);
        expect(Math.abs(t.scales[0]! - want.scales[0]!) / want.scales[0]!).toBeLessThan(1e-6);
      }
      expect(await hf.readMatrix('token_embd.weight')).toEqual(await gguf.readMatrix('token_embd.weight'));
      expect(await hf.readF32('blk.1.attn_sub_norm.weight')).toEqual(await gguf.readF32('blk.1.attn_sub_norm.weight'));
      await hf.close();
      await gguf.close();
    });
  }

  it.skipIf(!haveFixtures())('the bitnet-25 fixture as an HF directory decodes to the reference codes (bf16 weight_scale)', async () => {
    const ref = readReference('tiny-bitnet25-i2_s');
    const gguf = await openModel(fixturePath('tiny-bitnet25-i2_s'));
    const dir = path.join(tmp, 'fixture-hf');
    await writeHfDirectory(dir, gguf, { weightScaleDtype: 'BF16' });
    const hf = await openModel(dir);
    expect(hf.config).toEqual({ ...gguf.config, arch: 'bitnet-b1.58' });
    for (const r of ref.ternary_tensors) {
      const codes = decodeTernaryCodes(await hf.readTernary(r.name));
      expect(sha(new Uint8Array(codes.buffer)), r.name).toBe(r.ternary_codes_sha256);
    }
    await hf.close();
    await gguf.close();
  });

  it('rejects a missing weight_scale, a packed code 3, and a shard index that names a path', async () => {
    const tiny = buildTinyModel({ seed: 21 });
    const gguf = await openModel(tiny.bytes);
    const dir = path.join(tmp, 'hf-bad');
    await writeHfDirectory(dir, gguf);
    const stFile = path.join(dir, 'model.safetensors');
    const good = await openSafetensors(stFile);
    const tensors = await Promise.all(good.tensors.map(async (t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: (await good.readTensor(t)).slice() })));
    await good.close();
    const rewrite = (edit: (ts: typeof tensors) => typeof tensors) => writeFileSync(stFile, writeSafetensors(edit(tensors.map((t) => ({ ...t, data: t.data.slice() })))));

    rewrite((ts) => ts.filter((t) => t.name !== 'model.layers.0.mlp.up_proj.weight_scale'));
    const e1 = await openModel(dir).catch((x: unknown) => x);
    expect(TrineError.is(e1, 'INVALID_MODEL_FILE') && e1.field).toBe('model.layers.0.mlp.up_proj.weight_scale');

    rewrite((ts) => ts.map((t) => (t.name === 'model.layers.0.self_attn.k_proj.weight' ? { ...t, data: t.data.fill(0xff, 10, 11) } : t)));
    const m = await openModel(dir);
    const e2 = await m.readTernary('blk.0.attn_k.weight').catch((x: unknown) => x);
    expect(TrineError.is(e2, 'INVALID_MODEL_FILE') && e2.field).toBe('model.layers.0.self_attn.k_proj.weight');
    await m.close();

    rewrite((ts) => ts);
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': '../x.safetensors' } }));
    const e3 = await openModel(dir).catch((x: unknown) => x);
    expect(TrineError.is(e3, 'INVALID_MODEL_FILE') && e3.field).toBe('model.safetensors.index.json.weight_map.model.norm.weight');
    await gguf.close();
  });

  it('rejects a directory with a broken config.json, naming the key', async () => {
    const tiny = buildTinyModel({ seed: 3 });
    const dir = path.join(tmp, 'broken');
    await writeHfDirectory(dir, await openModel(tiny.bytes));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'bitnet', hidden_size: 256, num_attention_heads: 3, num_hidden_layers: 1, intermediate_size: 512, vocab_size: 260, max_position_embeddings: 128 }));
    const e = await openModel(dir).catch((x: unknown) => x);
    expect(TrineError.is(e, 'INVALID_MODEL_FILE') && e.field).toBe('config.json.attention.head_count');
    writeFileSync(path.join(dir, 'config.json'), '{"model_type": "bitnet", "model_type": "llama"}');
    const e2 = await openModel(dir).catch((x: unknown) => x);
    expect(TrineError.is(e2, 'INVALID_MODEL_FILE') && e2.field).toBe('config.json');
    expect((e2 as Error).message).toMatch(/duplicate key/);
  });
});
