import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SAMPLING, type ChatMessage, type GenerateEvent, type GenerateRequest, type SamplingParams } from '../generate/types.js';
import { referenceBackendFactory } from '../reference/index.js';
import { ensureDefaultModel } from '../default-model/cache.js';
import { openModel } from '../formats/open-model.js';
import { BitNetModel, type RoundProbsPolicy } from '../model/bitnet.js';
import { createTokenizer } from '../tokenizer/tokenizer.js';
import { Engine } from './engine.js';
import { PrefixCache, prefixBlockKeys } from './prefix-cache.js';
import { promptTokenIds } from './tokenize.js';

const sampling = (over: Partial<SamplingParams> = {}): SamplingParams => ({ ...DEFAULT_SAMPLING, maxTokens: 12, ...over });

async function run(engine: Engine, request: GenerateRequest): Promise<{ ids: number[]; text: string; inputTokens: number }> {
  const ids: number[] = [];
  let text = '';
  let inputTokens = 0;
  for await (const ev of engine.generate(request) as AsyncIterable<GenerateEvent>) {
    if (ev.type === 'token') {
      ids.push(ev.tokenId);
      text += ev.text;
    } else {
      text += ev.text;
      inputTokens = ev.usage.inputTokens;
    }
  }
  return { ids, text, inputTokens };
}

let dir: string;
let modelPath: string;
/** The trained default model: its replies are text that re-tokenizes as the same ids (the random model's rarely). */
let trainedPath: string;
// maxBatchTokens 16 and blocks of 8: prompts of a few dozen tokens cross several chunks and blocks.
const shape = { maxBatch: 2, context: 160, maxBatchTokens: 16, maxQueue: 4, prefixBlockTokens: 8 } as const;

/** An engine on the random default model whose attention rounds probabilities by `policy`. */
async function engineWith(policy: RoundProbsPolicy, prefixCacheTokens: number, path = modelPath, kvDtype: 'f16' | 'f32' = 'f16'): Promise<Engine> {
  const source = await openModel(path);
  try {
    const backend = await referenceBackendFactory.create();
    const model = await BitNetModel.load(source, backend, { slots: shape.maxBatch, context: shape.context, maxBatchTokens: shape.maxBatchTokens, roundProbsF16: policy, kvDtype });
    const engine = new Engine(model, createTokenizer(source.tokenizer), { ...shape, name: 'default', prefixCacheTokens });
    engine.onClose = () => {
      model.dispose();
      backend.destroy();
    };
    return engine;
  } finally {
    await source.close();
  }
}

/** Waits until the step loop has let the finished sequences go (their slots are released after `done`). */
async function settled(engine: Engine): Promise<void> {
  while (engine.stats.active > 0) await new Promise((r) => setImmediate(r));
}

const system = 'You are a terse assistant who answers questions about the weather in the mountains, in one sentence.';
const engines: Engine[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trine-prefix-'));
  modelPath = await ensureDefaultModel({ cacheDir: dir, random: true });
  trainedPath = await ensureDefaultModel({ cacheDir: dir });
});

afterAll(async () => {
  for (const e of engines) await e.close();
  await rm(dir, { recursive: true, force: true });
});

async function pair(policy: RoundProbsPolicy): Promise<{ cached: Engine; plain: Engine }> {
  const cached = await engineWith(policy, 10_000);
  const plain = await engineWith(policy, 0);
  engines.push(cached, plain);
  return { cached, plain };
}

/** A 3-turn chat whose later turns start with the earlier turns' prompts and replies (as `trine chat` sends them). */
async function chat(engine: Engine, s: SamplingParams, pause: boolean): Promise<{ replies: number[][]; hits: number[]; inputs: number[] }> {
  const messages: ChatMessage[] = [{ role: 'system', content: system }];
  const replies: number[][] = [];
  const hits: number[] = [];
  const inputs: number[] = [];
  for (const q of ['Is it cold at the top today?', 'And tomorrow morning?', 'Should I take a coat?']) {
    messages.push({ role: 'user', content: q });
    const before = engine.stats.prefixHitTokens;
    const r = await run(engine, { messages, sampling: s });
    hits.push(engine.stats.prefixHitTokens - before);
    inputs.push(r.inputTokens);
    replies.push(r.ids);
    messages.push({ role: 'assistant', content: r.text });
    // The user reading and typing: the idle engine prefills the reply again so the next turn can reuse it.
    if (pause) await engine.idle();
  }
  return { replies, hits, inputs };
}

describe('prefix cache: tokens on a reused prefix equal those without it (reference backend)', () => {
  for (const policy of ['single-token', 'always'] as const) {
    it(`${policy} rounding: a chat's later turns reuse earlier turns, greedy and seeded, with the uncached tokens`, async () => {
      const { cached, plain } = await pair(policy);
      for (const s of [sampling(), sampling({ temperature: 1, topP: 0.9, seed: 7 })]) {
        const b = await chat(plain, s, true);
        expect(b.hits).toEqual([0, 0, 0]);
        for (const pause of [false, true]) {
          const a = await chat(cached, s, pause);
          expect(a.replies).toEqual(b.replies);
          // Turn 2 and 3 start with the system prompt and turn 1's user message: at least those blocks are reused.
          expect(a.hits[1]).toBeGreaterThanOrEqual(cached.tokenize(system).length - shape.prefixBlockTokens);
          expect(a.hits[2]).toBeGreaterThanOrEqual(a.hits[1]!);
          // All of the previous turn's prompt, in whole blocks (how much of a reply is reused depends on the
          // template re-rendering it as the same tokens: the next test checks that part).
          expect(a.hits[2]).toBeGreaterThanOrEqual(a.inputs[1]! - shape.prefixBlockTokens);
        }
      }
    });
  }

  it("the keys an engine reports after a chat turn are those of its prompt's ids as promptTokenIds renders them", async () => {
    const engine = await engineWith('always', 10_000);
    engines.push(engine);
    const messages: ChatMessage[] = [{ role: 'system', content: system }, { role: 'user', content: 'Is it cold at the top today?' }];
    await run(engine, { messages, sampling: sampling() });
    await settled(engine);
    const ids = promptTokenIds(engine.tokenizer, engine.model.config.arch, { messages });
    const held = engine.heldPrefixes();
    expect(held.blockTokens).toBe(shape.prefixBlockTokens);
    const wanted = prefixBlockKeys(ids, held.blockTokens, ids.length - 1);
    expect(wanted.length).toBeGreaterThan(2);
    expect(wanted.every((k) => held.keys.includes(k))).toBe(true);
    expect(engine.heldPrefixes().keys).toEqual(held.keys);
  });

  it("decoded rows: reusable at once under 'always'; under 'single-token' once the idle engine prefilled them again", async () => {
    // Decode steps round probabilities to f16; an uncached prefill of the same tokens does not under 'single-token'
    // (bitnet.cpp's policy), so decoded rows become reusable only when prefilled again as multi-token chunks.
    for (const policy of ['always', 'single-token'] as const) {
      const engine = await engineWith(policy, 10_000, trainedPath);
      const plain = await engineWith(policy, 0, trainedPath);
      engines.push(engine, plain);
      const prompt = 'And God said unto Moses, Go in unto Pharaoh, and tell him, Thus saith the LORD God of the Hebrews,';
      const r = await run(engine, { prompt, sampling: sampling({ maxTokens: 20 }) });
      await engine.idle();
      const ids = engine.tokenize(prompt);
      expect(r.ids.length).toBe(20);
      // 19 of the 20 tokens were fed back (the last one never was).
      expect(engine.stats.prefixHeldTokens).toBe(ids.length + 19);
      const c = engine.model.config;
      expect(engine.stats.prefixHeldBytes).toBe((ids.length + 19) * 2 * 2 * c.layers * c.kvHeads * c.headDim); // f16 K and V
      // The prompt followed by its reply: reused up to where the text re-tokenizes differently, in whole blocks.
      const longer = prompt + r.text;
      const again = engine.tokenize(longer);
      const held = [...ids, ...r.ids.slice(0, 19)];
      let common = 0;
      while (common < held.length && again[common] === held[common]) common++;
      expect(common).toBeGreaterThan(ids.length + shape.prefixBlockTokens); // the test reaches into the reply's rows
      const before = engine.stats.prefixHitTokens;
      const a = await run(engine, { prompt: longer, sampling: sampling() });
      const B = shape.prefixBlockTokens;
      const hit = engine.stats.prefixHitTokens - before;
      expect(hit).toBeGreaterThan(ids.length);
      expect(hit).toBeLessThanOrEqual(Math.floor(Math.min(common, again.length - 1) / B) * B);
      expect(a.ids).toEqual((await run(plain, { prompt: longer, sampling: sampling() })).ids);
    }
  });

  it('prompts one token past a chunk boundary (an uncached prefill rounds that last row) still match', async () => {
    const { cached, plain } = await pair('single-token');
    const base = cached.tokenize(`${system} ${system}`);
    // Lengths around multiples of maxBatchTokens (16): 33 and 49 end in a one-token chunk, 34 and 48 do not.
    for (const len of [33, 34, 48, 49]) {
      const text = cached.tokenizer.decode(base.slice(1, len));
      expect(cached.tokenize(text).length).toBe(len);
      await run(cached, { prompt: `${text} warm`, sampling: sampling({ maxTokens: 1 }) }); // leave a prefix behind
      const a = await run(cached, { prompt: text, sampling: sampling() });
      expect(a.ids).toEqual((await run(plain, { prompt: text, sampling: sampling() })).ids);
    }
    expect(cached.stats.prefixHitTokens).toBeGreaterThan(0);
  });

  it('0 disables it; a small budget keeps at most that many positions, dropping the least recently used', async () => {
    const off = await engineWith('single-token', 0);
    const small = await engineWith('single-token', 24);
    engines.push(off, small);
    for (const e of [off, small]) {
      await run(e, { prompt: system, sampling: sampling({ maxTokens: 2 }) });
      await run(e, { prompt: `${system} Why?`, sampling: sampling({ maxTokens: 2 }) });
      await settled(e);
    }
    expect(off.stats.prefixHitTokens).toBe(0);
    expect(off.stats.prefixHeldTokens).toBe(0);
    expect(small.stats.prefixHeldTokens).toBeLessThanOrEqual(24);
  });

  it('bytes held count the KV cache in its own element type', async () => {
    const f16 = await engineWith('single-token', 10_000);
    const f32 = await engineWith('single-token', 10_000, modelPath, 'f32');
    engines.push(f16, f32);
    for (const e of [f16, f32]) {
      await run(e, { prompt: system, sampling: sampling({ maxTokens: 2 }) });
      await settled(e);
    }
    const c = f16.model.config;
    const perElement = 2 * c.layers * c.kvHeads * c.headDim; // K and V of every layer
    expect(f16.stats.prefixHeldTokens).toBeGreaterThan(0);
    expect(f32.stats.prefixHeldTokens).toBeGreaterThan(0);
    expect(f16.stats.prefixHeldBytes).toBe(f16.stats.prefixHeldTokens * perElement * 2);
    expect(f32.stats.prefixHeldBytes).toBe(f32.stats.prefixHeldTokens * perElement * 4);
  });
});

describe('PrefixCache.plan', () => {
  const tokens = Int32Array.from({ length: 40 }, (_, i) => 100 + i);
  const cache = (roundProbs: RoundProbsPolicy): PrefixCache => {
    const c = new PrefixCache(2, { blockTokens: 8, budgetTokens: 1000, roundProbs, chunkTokens: 16 });
    c.take({ slot: 0, reused: 0 });
    c.written(0, 0, tokens.subarray(0, 32), true);
    c.release(0);
    return c;
  };

  it('reuses whole blocks of the longest held prefix, never the whole prompt, and checks the tokens themselves', () => {
    const c = cache('always');
    expect(c.plan(tokens.subarray(0, 30), [0, 1])).toEqual({ slot: 0, reused: 24 });
    expect(c.plan(tokens.subarray(0, 32), [0, 1])).toEqual({ slot: 0, reused: 24 }); // the last row must be computed
    expect(c.plan(tokens.subarray(0, 33), [0, 1])).toEqual({ slot: 0, reused: 32 });
    const other = tokens.slice(0, 30);
    other[3] = 7;
    expect(c.plan(other, [0, 1]).reused).toBe(0);
    expect(c.plan(tokens.subarray(0, 30), [1]).reused).toBe(0); // slot 0 is taken
  });

  it("under 'single-token' the cached run's last chunk is one token exactly when the uncached run's is", () => {
    const c = cache('single-token');
    // 33 tokens: uncached chunks 16 + 16 + 1 (last row rounded); from 32 the rest is 1 token: the same.
    expect(c.plan(tokens.subarray(0, 33), [0]).reused).toBe(32);
    // 25 tokens: uncached 16 + 9; reusing 24 would leave a 1-token chunk, so 16 is reused (9 left, as uncached).
    expect(c.plan(tokens.subarray(0, 25), [0]).reused).toBe(16);
    expect(cache('always').plan(tokens.subarray(0, 25), [0]).reused).toBe(24);
  });

  it('the slots report their block keys, which prefixBlockKeys computes from the tokens alone', () => {
    const c = cache('always');
    const keys = prefixBlockKeys(tokens, 8, 32);
    expect(keys).toHaveLength(4);
    expect(c.heldKeys()).toEqual(keys);
    // One key names one whole prefix: a different first token changes every key after it.
    const other = tokens.slice(0, 32);
    other[0] = 7;
    expect(prefixBlockKeys(other, 8).filter((k) => keys.includes(k))).toEqual([]);
    c.take({ slot: 0, reused: 16 });
    expect(c.heldKeys()).toEqual(keys.slice(0, 2)); // what the new sequence keeps of the slot's prefix
  });

  it('a non-canonical write ends the reusable prefix there', () => {
    const c = cache('single-token');
    c.take({ slot: 0, reused: 16 });
    c.written(0, 16, tokens.subarray(16, 17), false);
    c.release(0);
    expect(c.heldTokens).toBe(16);
    expect(c.plan(tokens.subarray(0, 30), [0]).reused).toBe(16);
  });
});
