import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { modelWindowLogits, sequencePerplexity } from '../eval/perplexity.js';
import { openGguf } from '../formats/gguf/index.js';
import { openModel } from '../formats/index.js';
import { BitNetModel } from '../model/bitnet.js';
import { createReferenceBackend, type RefHandles } from '../reference/index.js';
import { createTokenizer, tokenizerSpecFromGguf } from '../tokenizer/index.js';
import { DEFAULT_MODEL_NAME } from './build.js';
import { ensureDefaultModel } from './cache.js';
import { TRAINED_DEFAULT_MODEL_NAME, trainedDefaultModelPath } from './trained.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Its perplexity on SENTENCE stays below this: the committed model measures 24.8, chance is the vocabulary (4096). */
const PERPLEXITY_BOUND = 60;

/** A sentence in the style of the training data that is in neither split. */
const SENTENCE = 'And the people went out into the city, and they said unto the king that the men of the land were come.';

/** Perplexity of `text` under a model file, every position scored after BOS, on the reference backend. */
async function perplexityOf(path: string, text: string): Promise<number> {
  const source = await openModel(path);
  const ids = createTokenizer(source.tokenizer).encode(text, { addBos: true });
  const be = createReferenceBackend();
  const model = await BitNetModel.load<RefHandles>(source, be, { slots: 1 });
  await source.close();
  const rows = await modelWindowLogits(model, be)(Int32Array.from(ids), 0);
  model.dispose();
  return sequencePerplexity(rows, ids, model.config.vocab);
}

describe('trained default model', () => {
  it('ships in the package; ensureDefaultModel returns it unless the random model is asked for', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trine-trained-'));
    dirs.push(dir);
    const trained = await trainedDefaultModelPath();
    expect(trained).toMatch(/assets\/trine-default\.gguf$/);
    expect(await ensureDefaultModel({ cacheDir: dir })).toBe(trained);
    const random = await ensureDefaultModel({ cacheDir: dir, random: true });
    expect(random.startsWith(dir)).toBe(true);
    const source = await openModel(random);
    expect(source.name).toBe(DEFAULT_MODEL_NAME);
    await source.close();
  });

  it('is a bitnet-b1.58 file with I2_S projections, a tied F16 embedding and its own gpt2 tokenizer and chat template', async () => {
    const g = await openGguf((await trainedDefaultModelPath())!);
    try {
      expect(g.metadata.get('general.architecture')?.value).toBe('bitnet-b1.58');
      expect(g.metadata.get('general.name')?.value).toBe(TRAINED_DEFAULT_MODEL_NAME);
      expect(g.tensor('token_embd.weight')?.type).toBe('F16');
      expect(g.tensor('output.weight')).toBeUndefined();
      expect(g.tensors.filter((t) => t.type === 'I2_S').length).toBe(7 * Number(g.metadata.get('bitnet-b1.58.block_count')?.value));
      const spec = tokenizerSpecFromGguf(g.metadata);
      expect(spec.model).toBe('gpt2');
      expect(spec.merges!.length).toBeGreaterThan(1000);
      expect(spec.chatTemplate).toMatch(/Assistant: /);
      // Common English words are single tokens of its vocabulary.
      const tok = createTokenizer(spec);
      expect(tok.encode(' the people said', { addBos: false })).toHaveLength(3);
    } finally {
      await g.close();
    }
  });

  it('predicts English it never saw far better than chance, and far better than the random-weight model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trine-trained-'));
    dirs.push(dir);
    const trained = await perplexityOf((await trainedDefaultModelPath())!, SENTENCE);
    const random = await perplexityOf(await ensureDefaultModel({ cacheDir: dir, random: true }), SENTENCE);
    // Chance is the vocabulary size (4096); the random model is near it or worse (it measures about 23,000).
    expect(trained).toBeLessThan(PERPLEXITY_BOUND);
    expect(random).toBeGreaterThan(10 * trained);
  });
});
