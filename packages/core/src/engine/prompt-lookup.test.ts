import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrineError } from '../errors/index.js';
import { DEFAULT_SAMPLING, type GenerateEvent, type SamplingParams } from '../generate/types.js';
import { referenceBackendFactory } from '../reference/index.js';
import { ensureDefaultModel } from '../default-model/cache.js';
import { openModel } from '../formats/open-model.js';
import { BitNetModel, type RoundProbsPolicy } from '../model/bitnet.js';
import { createTokenizer } from '../tokenizer/tokenizer.js';
import { Engine, lookupDraft, type EngineRequest } from './engine.js';

const sampling = (over: Partial<SamplingParams> = {}): SamplingParams => ({ ...DEFAULT_SAMPLING, maxTokens: 40, ...over });

async function run(engine: Engine, request: EngineRequest): Promise<number[]> {
  const ids: number[] = [];
  for await (const ev of engine.generate(request) as AsyncIterable<GenerateEvent>) if (ev.type === 'token') ids.push(ev.tokenId);
  return ids;
}

let dir: string;
let modelPath: string;
const engines: Engine[] = [];

/** An engine on the random default model whose attention rounds probabilities by `policy` (no prefix cache). */
async function engineWith(policy: RoundProbsPolicy): Promise<Engine> {
  const source = await openModel(modelPath);
  try {
    const backend = await referenceBackendFactory.create();
    const model = await BitNetModel.load(source, backend, { slots: 3, context: 192, maxBatchTokens: 32, roundProbsF16: policy });
    const engine = new Engine(model, createTokenizer(source.tokenizer), { maxBatch: 3, context: 192, maxBatchTokens: 32, maxQueue: 4, name: 'default' });
    engine.onClose = () => {
      model.dispose();
      backend.destroy();
    };
    engines.push(engine);
    return engine;
  } finally {
    await source.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trine-lookup-'));
  // The trained default model: it continues repeated text, so drafts get accepted (the random one's output never repeats).
  modelPath = await ensureDefaultModel({ cacheDir: dir });
});

afterAll(async () => {
  for (const e of engines) await e.close();
  await rm(dir, { recursive: true, force: true });
});

// Repeated text gives the n-gram matcher something to find; the random model's greedy output also loops.
const prompt = 'And God said, Let there be light: and there was light. And God said, Let there be light: and there was light. And God said, Let there be';

describe('prompt-lookup decoding (reference backend)', () => {
  for (const policy of ['single-token', 'always'] as const) {
    it(`${policy} rounding: greedy tokens equal plain decoding's, with drafts accepted`, async () => {
      const engine = await engineWith(policy);
      const plain = await run(engine, { prompt, sampling: sampling() });
      for (const k of [1, 4, 8]) {
        const before = engine.stats;
        const steps = before.steps;
        expect(await run(engine, { prompt, sampling: sampling(), promptLookup: k })).toEqual(plain);
        const after = engine.stats;
        expect(after.draftedTokens).toBeGreaterThan(before.draftedTokens);
        expect(after.acceptedTokens).toBeGreaterThan(before.acceptedTokens);
        // Accepted drafts are tokens that took no step of their own.
        expect(after.steps - steps).toBeLessThan(plain.length + 1);
      }
    });
  }

  it('a lookup stream beside a sampled one and a plain greedy one: each gets the tokens it gets alone', async () => {
    const engine = await engineWith('single-token');
    const requests: EngineRequest[] = [
      { prompt, sampling: sampling(), promptLookup: 6 },
      { prompt: 'Once upon a time', sampling: sampling({ temperature: 0.9, seed: 3 }) },
      { prompt: 'and the cat sat', sampling: sampling({ maxTokens: 25 }) },
    ];
    const alone: number[][] = [];
    for (const r of requests) alone.push(await run(engine, r));
    const together = await Promise.all(requests.map((r) => run(engine, r)));
    expect(together).toEqual(alone);
    expect(engine.stats.maxDecodeBatch).toBeGreaterThan(1);
  });

  it('seeded sampled requests: the same tokens as plain decoding under every sampling control, drafts accepted and rejected', async () => {
    const engine = await engineWith('single-token');
    const controls: Partial<SamplingParams>[] = [
      { temperature: 0.5 },
      { temperature: 0.8, topK: 20, topP: 0.9 },
      { temperature: 0.7, minP: 0.05, typicalP: 0.95 },
      { temperature: 0.6, repetitionPenalty: 1.2, presencePenalty: 0.3, frequencyPenalty: 0.2 },
      { temperature: 0.6, logitBias: { 11: 2, 13: -5 }, topLogprobs: 2 },
    ];
    const before = engine.stats;
    for (const [i, c] of controls.entries()) {
      const s = sampling({ ...c, seed: 100 + i, maxTokens: 24 });
      const plain = await run(engine, { prompt, sampling: s });
      const lookup = await run(engine, { prompt, sampling: s, promptLookup: 4 });
      expect(lookup).toEqual(plain);
      // Reproducible: the same seed again gives the same tokens.
      if (i === 0) expect(await run(engine, { prompt, sampling: s, promptLookup: 4 })).toEqual(lookup);
    }
    const after = engine.stats;
    expect(after.acceptedTokens).toBeGreaterThan(before.acceptedTokens);
    // Some drafts were rejected: the sampled rows decided, not the drafts.
    expect(after.acceptedTokens - before.acceptedTokens).toBeLessThan(after.draftedTokens - before.draftedTokens);
  });

  it('a seeded lookup stream beside other streams gets the tokens it gets alone', async () => {
    const engine = await engineWith('always');
    const requests: EngineRequest[] = [
      { prompt, sampling: sampling({ temperature: 0.6, seed: 5 }), promptLookup: 6 },
      { prompt: 'And the king said', sampling: sampling({ temperature: 0.9, seed: 3 }), promptLookup: 3 },
      { prompt, sampling: sampling({ maxTokens: 25 }) },
    ];
    const alone: number[][] = [];
    for (const r of requests) alone.push(await run(engine, r));
    const together = await Promise.all(requests.map((r) => run(engine, r)));
    expect(together).toEqual(alone);
    expect(engine.stats.maxDecodeBatch).toBeGreaterThan(1);
  });

  it('a structured-output sequence with lookup follows its schema and equals plain decoding', async () => {
    const engine = await engineWith('single-token');
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 12 }, count: { type: 'integer' } }, required: ['name', 'count'], additionalProperties: false };
    const text = '{"name": "light", "count": 3} {"name": "light", "count": 3} {"name": "light", "count": 3} ';
    const before = engine.stats;
    for (const over of [{}, { temperature: 0.7, seed: 9 }]) {
      const s = sampling({ ...over, maxTokens: 60, responseFormat: { type: 'json_schema', schema } });
      const events: GenerateEvent[] = [];
      for await (const ev of engine.generate({ prompt: text, sampling: s, promptLookup: 6 } as EngineRequest)) events.push(ev);
      const done = events.at(-1)!;
      expect(done.type === 'done' && done.finishReason).toBe('stop');
      const out = JSON.parse(events.map((e) => (e.type === 'token' ? e.text : e.type === 'done' ? e.text : '')).join('')) as Record<string, unknown>;
      expect(Object.keys(out).sort()).toEqual(['count', 'name']);
      expect(typeof out.name).toBe('string');
      expect(Number.isInteger(out.count)).toBe(true);
      const ids = events.flatMap((e) => (e.type === 'token' ? [e.tokenId] : []));
      expect(await run(engine, { prompt: text, sampling: s })).toEqual(ids);
    }
    expect(engine.stats.draftedTokens).toBeGreaterThan(before.draftedTokens);
  });

  it('lookupDraft: the tokens after the latest match of the longest n-gram, none below minNgram', () => {
    const at = (xs: number[]) => (i: number) => xs[i]!;
    const xs = [5, 1, 2, 7, 8, 9, 2, 7, 4, 1, 2];
    expect(lookupDraft(xs.length, at(xs), 3)).toEqual([7, 8, 9]); // 2-gram [1, 2] at 1 (no earlier [4, 1, 2])
    expect(lookupDraft(xs.length, at(xs), 3, 3)).toEqual([]);
    const ys = [...xs.slice(0, 10), 3]; // last token 3 occurs nowhere before
    expect(lookupDraft(ys.length, at(ys), 3)).toEqual([]);
    const zs = [1, 2, 3, 9, 1, 2, 3, 8, 1, 2, 3]; // [1, 2, 3] occurs twice before the end: the latest is used
    expect(lookupDraft(zs.length, at(zs), 2, 3)).toEqual([8, 1]);
  });

  it('a bad value is INVALID_ARGUMENT naming promptLookup', async () => {
    const engine = await engineWith('single-token');
    for (const bad of [-1, 17, 1.5]) {
      await expect(run(engine, { prompt, sampling: sampling(), promptLookup: bad })).rejects.toSatisfy(
        (e: unknown) => TrineError.is(e, 'INVALID_ARGUMENT') && (e as TrineError).field === 'promptLookup',
      );
    }
  });
});
