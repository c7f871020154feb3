import { describe, expect, it } from 'vitest';
import { buildDefaultModelBytes } from '../default-model/build.js';
import { openModel } from '../formats/index.js';
import { BitNetModel } from '../model/bitnet.js';
import { createReferenceBackend, type RefHandles, type RefTensor } from '../reference/index.js';
import { buildDefaultTokenizerSpec } from '../tokenizer/index.js';
import { modelWindowLogits, perplexity, tokenNll, type WindowLogits } from './perplexity.js';

const V = 8;

/** A model whose every row gives probability p to the text's next token and spreads the rest evenly. */
function knowing(text: readonly number[], start: () => number, p: (pos: number) => number): WindowLogits {
  return async (window, first) => {
    const base = start();
    const rows = new Float32Array((window.length - 1 - first) * V);
    for (let j = first; j < window.length - 1; j++) {
      const pj = p(base + j);
      const row = rows.subarray((j - first) * V, (j - first + 1) * V);
      row.fill(Math.log((1 - pj) / (V - 1)));
      row[text[base + j + 1]!] = Math.log(pj);
    }
    return rows;
  };
}

describe('tokenNll', () => {
  it('is −log softmax at the target', () => {
    expect(tokenNll(Float32Array.of(0, Math.log(3)), 1)).toBeCloseTo(-Math.log(3 / 4), 6);
    expect(tokenNll(Float32Array.of(1000, 1000), 0)).toBeCloseTo(Math.log(2), 6);
  });
});

describe('perplexity (llama-perplexity method)', () => {
  it('a uniform model has perplexity = vocab with no spread; only second halves of whole windows are scored', async () => {
    const text = Array.from({ length: 70 }, (_, i) => i % V);
    const r = await perplexity(text, 16, V, undefined, async (w, first) => new Float32Array((w.length - 1 - first) * V));
    expect(r.windows).toBe(4); // 70 tokens: 4 windows of 16, the last 6 tokens unscored
    expect(r.scored).toBe(4 * (16 - 1 - 8));
    expect(r.evaluated).toBe(64);
    expect(r.perplexity).toBeCloseTo(V, 9);
    expect(r.stderr).toBeCloseTo(0, 6);
  });

  it('puts BOS first in every window and scores the text’s tokens', async () => {
    const text = Array.from({ length: 32 }, (_, i) => (i * 5) % V);
    const seen: number[][] = [];
    const logits = knowing(text, () => (seen.length - 1) * 8, () => 0.5);
    const r = await perplexity(text, 8, V, 7, async (w, first) => {
      seen.push([...w]);
      return logits(w, first);
    });
    expect(seen.map((w) => w[0])).toEqual([7, 7, 7, 7]);
    expect(seen[1]!.slice(1)).toEqual(text.slice(9, 16));
    expect(r.perplexity).toBeCloseTo(2, 6);
  });

  it('reports the standard error of the perplexity as llama-perplexity does', async () => {
    const text = Array.from({ length: 16 }, (_, i) => i % V);
    // Scored positions 4, 5, 6 in one window of 8 and 12, 13, 14 in the next: probabilities 1/2 and 1/4 alternate.
    const p = (pos: number) => (pos % 2 === 0 ? 0.5 : 0.25);
    let w = -1;
    const r = await perplexity(text, 8, V, undefined, (win, first) => {
      w++;
      return knowing(text, () => w * 8, p)(win, first);
    });
    const nlls = [4, 5, 6, 12, 13, 14].map((pos) => -Math.log(p(pos)));
    const mean = nlls.reduce((a, b) => a + b) / nlls.length;
    const variance = nlls.reduce((a, b) => a + b * b, 0) / nlls.length - mean * mean;
    expect(r.scored).toBe(6);
    expect(r.perplexity).toBeCloseTo(Math.exp(mean), 6);
    expect(r.stderr).toBeCloseTo(Math.exp(mean) * Math.sqrt(variance / 5), 6);
  });

  it('rejects a text shorter than one window', async () => {
    await expect(perplexity([1, 2, 3], 8, V, undefined, async () => new Float32Array())).rejects.toThrow(/fewer than one window/);
  });

  it('on a model, a window’s rows are the logits one decode step per token gives', async () => {
    const spec = buildDefaultTokenizerSpec();
    const bytes = buildDefaultModelBytes(spec);
    const load = async () => {
      const source = await openModel(bytes);
      const be = createReferenceBackend();
      const model = await BitNetModel.load<RefHandles>(source, be, { slots: 1, context: 16, maxBatchTokens: 16, roundProbsF16: 'never' });
      await source.close();
      return { model, be };
    };
    const window = Int32Array.from({ length: 16 }, (_, i) => (i * 37 + 11) % spec.tokens.length);
    const a = await load();
    const rows = await modelWindowLogits(a.model, a.be)(window, 8);
    const b = await load();
    const V2 = a.model.config.vocab;
    for (let i = 0; i < 15; i++) {
      const out = b.model.forward({ tokens: window.subarray(i, i + 1), positions: Int32Array.of(i), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) }) as RefTensor;
      if (i < 8) continue;
      const want = (out.data as Float32Array).subarray(0, V2);
      const got = rows.subarray((i - 8) * V2, (i - 7) * V2);
      let maxDiff = 0;
      for (let v = 0; v < V2; v++) maxDiff = Math.max(maxDiff, Math.abs(got[v]! - want[v]!));
      expect(maxDiff).toBeLessThan(1e-4);
    }
  });
});
