import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BitNetModel, MODEL_SHAPES as SHAPES, openGguf, openModel, randomBitnetLayout, referenceBackendFactory, writeGgufFileStreaming } from '@trine/core';
import { benchModelConfig, benchModelKey, ensureBenchModel, GENERATOR_VERSION } from './generate.js';
import { bytesPerToken, shapeByName } from './shapes.js';

const dir = mkdtempSync(path.join(tmpdir(), 'trine-bench-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench model shapes', () => {
  it('writes the tiny shape streaming; openModel reads the expected config and tokenizer, and it runs', async () => {
    const first = await ensureBenchModel(SHAPES.tiny!, 'i2_s', { cacheDir: dir });
    expect(first.built).toBe(true);
    expect(path.basename(first.path)).toBe(`${benchModelKey(SHAPES.tiny!, 'i2_s')}.gguf`);
    expect(path.basename(first.path)).toContain(`-g${GENERATOR_VERSION}-`);
    const again = await ensureBenchModel(SHAPES.tiny!, 'i2_s', { cacheDir: dir });
    expect(again).toMatchObject({ path: first.path, built: false });

    const m = await openModel(first.path);
    try {
      const t = SHAPES.tiny!;
      expect(m.config).toMatchObject({ arch: 'bitnet-b1.58', hidden: t.hidden, layers: t.layers, heads: t.heads, kvHeads: t.kvHeads, ffn: t.ffn, vocab: t.vocab, headDim: t.hidden / t.heads, activation: 'relu2', actQuant: 'per_token' });
      expect(m.tokenizer.tokens).toHaveLength(t.vocab);
      expect(m.tensors.find((x) => x.name === 'blk.0.ffn_down.weight')).toMatchObject({ type: 'I2_S', shape: [t.ffn, t.hidden] });
      expect(m.tensors.find((x) => x.name === 'token_embd.weight')?.type).toBe('F16');
      expect(m.hasTensor('output.weight')).toBe(false);
      const ternary = await m.readTernary('blk.1.attn_q.weight');
      expect(ternary.scales[0]).toBeGreaterThanOrEqual(0.08);
      expect(ternary.scales[0]).toBeLessThanOrEqual(0.2);
      // Random codes use all three values and never the unused code 3.
      const counts = [0, 0, 0, 0];
      for (const byte of ternary.data.subarray(0, (t.hidden * t.hidden) / 4)) for (let s = 0; s < 8; s += 2) counts[(byte >> s) & 3]!++;
      expect(counts[3]).toBe(0);
      for (const c of counts.slice(0, 3)) expect(c / (t.hidden * t.hidden)).toBeGreaterThan(0.3);

      const model = await BitNetModel.load(m, await referenceBackendFactory.create(), { slots: 1, context: 16 });
      const logits = await model.backend.read(model.forward({ tokens: Int32Array.of(40, 41), positions: Int32Array.of(0, 1), slots: Int32Array.of(0, 0), logitsFor: Int32Array.of(1) }), 1);
      expect((logits.data as Float32Array).every(Number.isFinite)).toBe(true);
      model.dispose();
    } finally {
      await m.close();
    }
  });

  it('a full-size vocabulary header (> 64 KiB) round-trips: 32002 tokens with LLaMA-3 specials at the end', async () => {
    const file = path.join(dir, 'header-700m.gguf');
    const { metadata } = randomBitnetLayout(benchModelConfig(SHAPES['700m']!, 'i2_s'));
    await writeGgufFileStreaming(file, metadata, [], () => []);
    const g = await openGguf(file);
    try {
      const tokens = g.metadata.get('tokenizer.ggml.tokens');
      expect(tokens?.type).toBe('ARRAY');
      const list = tokens!.value as string[];
      expect(list).toHaveLength(32002);
      expect(new Set(list).size).toBe(32002);
      const bos = g.metadata.get('tokenizer.ggml.bos_token_id')!.value as number;
      expect(list[bos]).toBe('<|begin_of_text|>');
      expect(list[32001]).toBe('<|eot_id|>');
      expect(g.metadata.get('bitnet-b1.58.vocab_size')?.value).toBe(32002);
    } finally {
      await g.close();
    }
  });


  it('knows the shapes the issue names, and 2B4T reads about 1.18 GB per token', () => {
    expect(shapeByName('2b4t')).toMatchObject({ hidden: 2560, layers: 30, heads: 20, kvHeads: 5, ffn: 6912, vocab: 128256, context: 4096 });
    expect(shapeByName('700m')).toMatchObject({ hidden: 1536, layers: 24, heads: 16, kvHeads: 16, ffn: 4096, vocab: 32002 });
    expect(shapeByName('8b')).toMatchObject({ hidden: 4096, layers: 32, heads: 32, kvHeads: 8, ffn: 14336, vocab: 128256 });
    expect(bytesPerToken(shapeByName('2b4t')) / 1e9).toBeCloseTo(1.18, 2);
    expect(bytesPerToken(shapeByName('2b4t'), 1) / 1e9).toBeCloseTo(0.85, 1);
    expect(() => shapeByName('13b')).toThrow(/unknown shape '13b'/);
  });
});
