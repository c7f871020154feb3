import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeGgufFile } from '../formats/gguf/index.js';
import { TrineError } from '../errors/index.js';
import { DEFAULT_SAMPLING, type GenerateEvent, type GenerateRequest, type SamplingParams } from '../generate/types.js';
import { referenceBackendFactory } from '../reference/index.js';
import { buildDefaultTokenizerSpec } from '../tokenizer/index.js';
import { buildDefaultModelBytes, defaultModelContents } from '../default-model/build.js';
import { ensureDefaultModel } from '../default-model/cache.js';
import { Engine, type StepModel } from './engine.js';

type Done = Extract<GenerateEvent, { type: 'done' }>;
type Tok = Extract<GenerateEvent, { type: 'token' }>;

const sampling = (over: Partial<SamplingParams> = {}): SamplingParams => ({ ...DEFAULT_SAMPLING, maxTokens: 16, ...over });

async function collect(stream: AsyncIterable<GenerateEvent>, onToken?: (t: Tok) => void): Promise<{ tokens: Tok[]; done: Done; text: string }> {
  const tokens: Tok[] = [];
  let done: Done | undefined;
  for await (const ev of stream) {
    if (ev.type === 'token') {
      tokens.push(ev);
      onToken?.(ev);
    } else done = ev;
  }
  expect(done).toBeDefined();
  return { tokens, done: done!, text: tokens.map((t) => t.text).join('') + done!.text };
}

const ids = (r: { tokens: Tok[] }): number[] => r.tokens.map((t) => t.tokenId);

let dir: string;
let engine: Engine;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trine-engine-'));
  // The random-weight model (not the shipped trained one): these tests pin its shapes, tokenizer and bytes.
  // No prefix cache: several tests build a second Engine on this model's KV slots, and a prefix cache assumes its
  // engine is the only writer of them (prefix-cache.test.ts tests it).
  engine = await Engine.load({ model: await ensureDefaultModel({ cacheDir: dir, random: true }), backend: referenceBackendFactory, cacheDir: dir, maxBatch: 4, context: 128, maxQueue: 8, prefixCacheTokens: 0 });
});

afterAll(async () => {
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('Engine on the default model (reference backend)', () => {
  it('generates max_tokens tokens greedily, deterministically, with usage and timings', async () => {
    const request: GenerateRequest = { prompt: 'The quick brown fox', sampling: sampling() };
    const a = await collect(engine.generate(request));
    const b = await collect(engine.generate(request));
    expect(a.done.finishReason).toBe('length');
    expect(a.tokens.length).toBe(16);
    expect(a.tokens.map((t) => t.index)).toEqual([...Array(16).keys()]);
    expect(ids(b)).toEqual(ids(a));
    expect(a.done.usage).toEqual({ inputTokens: engine.tokenize('The quick brown fox').length, outputTokens: 16 });
    expect(a.done.timings.prefillMs).toBeGreaterThan(0);
    expect(a.done.timings.timeToFirstTokenMs).toBeGreaterThanOrEqual(a.done.timings.prefillMs);
    expect(a.done.timings.perTokenMs).toBeCloseTo(a.done.timings.decodeMs / 15, 6);
    // The random model does not just repeat one token (the weights' scales were chosen for that).
    expect(new Set(ids(a)).size).toBeGreaterThan(2);
  });

  it('streams UTF-8-safe deltas whose concatenation is the decoded text', async () => {
    for (const seed of [1, 2]) {
      const r = await collect(engine.generate({ prompt: 'naïve café 日本', sampling: sampling({ temperature: 1.5, seed, maxTokens: 16 }) }));
      expect(r.text).toBe(engine.tokenizer.decode(ids(r)));
      for (const t of r.tokens) expect(Buffer.from(t.text, 'utf8').toString('utf8')).toBe(t.text); // no lone surrogates
    }
  });

  it('greedy through the argmax kernel equals greedy on read-back logits', async () => {
    const viaKernel = await collect(engine.generate({ prompt: 'Hello', sampling: sampling() }));
    const viaHost = await collect(engine.generate({ prompt: 'Hello', sampling: sampling({ topLogprobs: 3 }) }));
    expect(ids(viaHost)).toEqual(ids(viaKernel));
    for (const t of viaHost.tokens) {
      expect(t.topLogprobs).toHaveLength(3);
      expect(t.topLogprobs![0]!.tokenId).toBe(t.tokenId);
      expect(t.logprob).toBeCloseTo(t.topLogprobs![0]!.logprob, 10);
      expect(t.topLogprobs![0]!.logprob).toBeGreaterThanOrEqual(t.topLogprobs![1]!.logprob);
      expect(t.topLogprobs![2]!.logprob).toBeLessThan(0);
    }
    expect(viaKernel.tokens[0]!.topLogprobs).toBeUndefined();
  });

  it('never emits a stop string, even split across tokens, and stops there', async () => {
    const full = await collect(engine.generate({ prompt: 'Once upon a time', sampling: sampling({ maxTokens: 24 }) }));
    // A stop string straddling token boundaries, taken from the middle of the greedy text.
    const starts: number[] = [];
    let at = 0;
    for (const t of full.tokens) {
      starts.push(at);
      at += t.text.length;
    }
    const from = starts[8]! + Math.max(0, Math.floor(full.tokens[8]!.text.length / 2));
    const stop = full.text.slice(from, Math.min(full.text.length, starts[11]! + 1));
    expect(stop.length).toBeGreaterThan(1);
    const expected = full.text.slice(0, full.text.indexOf(stop));
    let emitted = '';
    const r = await collect(engine.generate({ prompt: 'Once upon a time', sampling: sampling({ maxTokens: 24, stop: [stop] }) }), (t) => {
      emitted += t.text;
      expect(expected.startsWith(emitted)).toBe(true);
    });
    expect(r.done.finishReason).toBe('stop');
    expect(r.text).toBe(expected);
    expect(r.text.includes(stop)).toBe(false);
    expect(ids(r)).toEqual(ids(full).slice(0, r.tokens.length));
  });

  it('max_tokens 1 yields one token', async () => {
    const r = await collect(engine.generate({ prompt: 'a', sampling: sampling({ maxTokens: 1 }) }));
    expect(r.tokens.length).toBe(1);
    expect(r.done.finishReason).toBe('length');
  });

  it('stops at the context length', async () => {
    const small = new Engine(engine.model, engine.tokenizer, { ...engine.config, context: 8 });
    const prompt = engine.tokenize('one two three');
    const r = await collect(small.generate({ prompt: 'one two three', sampling: sampling({ maxTokens: 8 }) }));
    expect(r.done.finishReason).toBe('length');
    expect(prompt.length + r.tokens.length).toBe(8 + 1); // the last token is sampled from position 7 and not fed back
  });

  it('accepts chat messages rendered with the model template', async () => {
    const r = await collect(engine.generate({ messages: [{ role: 'user', content: 'Hi there' }], sampling: sampling({ maxTokens: 4 }) }));
    expect(r.done.usage.inputTokens).toBe(engine.tokenize('Hi there', { chat: true }).length);
    expect(engine.tokenize('Hi there', { chat: true }).length).toBeGreaterThan(engine.tokenize('Hi there').length);
  });

  it('cancels within one decode step when the signal fires mid-stream', async () => {
    const ac = new AbortController();
    const r = await collect(engine.generate({ prompt: 'abc', sampling: sampling({ maxTokens: 100 }) }, ac.signal), (t) => {
      if (t.index === 2) ac.abort();
    });
    expect(r.done.finishReason).toBe('cancelled');
    expect(r.tokens.length).toBeGreaterThanOrEqual(3);
    expect(r.tokens.length).toBeLessThanOrEqual(4);
    expect(engine.stats.active).toBe(0);
  });

  it('an already-aborted signal ends at once, and breaking out of the loop frees the slot', async () => {
    const r = await collect(engine.generate({ prompt: 'abc', sampling: sampling() }, AbortSignal.abort()));
    expect(r.done.finishReason).toBe('cancelled');
    expect(r.tokens.length).toBe(0);
    for await (const ev of engine.generate({ prompt: 'abc', sampling: sampling({ maxTokens: 100 }) })) {
      if (ev.type === 'token') break;
    }
    // The step loop retires the abandoned sequence at its next step.
    for (let i = 0; i < 50 && engine.stats.active > 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(engine.stats.active).toBe(0);
  });

  it('batched streams get exactly the tokens they get alone (4 concurrent seeded requests)', async () => {
    const requests: GenerateRequest[] = [
      { prompt: 'The cat', sampling: sampling({ temperature: 0.9, topK: 40, seed: 11, maxTokens: 12 }) },
      { prompt: 'A long time ago in a land', sampling: sampling({ temperature: 1.2, topP: 0.9, seed: 22, maxTokens: 12 }) },
      { prompt: 'x', sampling: sampling({ temperature: 0.7, repetitionPenalty: 1.3, seed: 33, maxTokens: 12 }) },
      { prompt: 'Numbers: 1 2 3', sampling: sampling({ maxTokens: 12 }) },
    ];
    const alone: number[][] = [];
    for (const r of requests) alone.push(ids(await collect(engine.generate(r))));
    const stepsBefore = engine.stats.steps;
    const together = await Promise.all(requests.map((r) => collect(engine.generate(r))));
    expect(together.map(ids)).toEqual(alone);
    expect(engine.stats.maxDecodeBatch).toBe(4);
    // Shared decode steps: far fewer than the 4 × 12 steps of running them one by one.
    expect(engine.stats.steps - stepsBefore).toBeLessThan(4 * 12);
  });

  it('prefills requests that arrive together in one step, each getting the tokens it gets alone', async () => {
    const prompts = ['The cat sat', 'Once upon a time', 'Numbers: 1 2 3', 'Hello there, friend'];
    const requests = prompts.map((prompt, i): GenerateRequest => ({ prompt, sampling: sampling({ maxTokens: 6, ...(i % 2 ? { temperature: 0.8, seed: i } : {}) }) }));
    const alone: number[][] = [];
    for (const r of requests) alone.push(ids(await collect(engine.generate(r))));
    const stepsBefore = engine.stats.steps;
    const together = await Promise.all(requests.map((r) => collect(engine.generate(r))));
    expect(together.map(ids)).toEqual(alone);
    // One prefill step for all four, then 5 shared decode steps (alone: 4 × 6).
    expect(engine.stats.steps - stepsBefore).toBe(6);

    // A one-token prompt (BOS alone) never shares a step with longer ones: a step whose rows are each their slot's
    // only token rounds attention like a decode step (I2_S), so sharing would change what it gets.
    expect(engine.tokenize('').length).toBe(1);
    const steps: { slots: number[] }[] = [];
    const spy = Object.create(engine.model, {
      forward: { value: (step: Parameters<StepModel['forward']>[0]) => (steps.push({ slots: [...step.slots] }), engine.model.forward(step)) },
    }) as StepModel;
    const watched = new Engine(spy, engine.tokenizer, engine.config);
    const mixed = ['', '', 'The cat sat', 'Once upon a time'].map((prompt): GenerateRequest => ({ prompt, sampling: sampling({ maxTokens: 3 }) }));
    const mixedAlone: number[][] = [];
    for (const r of mixed) mixedAlone.push(ids(await collect(watched.generate(r))));
    steps.length = 0;
    expect((await Promise.all(mixed.map((r) => collect(watched.generate(r))))).map(ids)).toEqual(mixedAlone);
    const rowsPerSlot = (slots: number[]) => [...new Set(slots)].map((sl) => slots.filter((x) => x === sl).length);
    for (const st of steps) {
      const counts = rowsPerSlot(st.slots);
      expect(counts.includes(1) && counts.some((c) => c > 1), `step slots ${st.slots.join(',')}`).toBe(false);
    }
    // …while the two longer prompts did share their prefill step.
    expect(steps.some((st) => rowsPerSlot(st.slots).filter((c) => c > 1).length === 2)).toBe(true);
  });

  it('prefills long prompts in chunks between decode steps, without changing tokens', async () => {
    const prompt = 'word '.repeat(31).trim();
    const n = engine.tokenize(prompt).length;
    expect(n % 4).not.toBe(1); // a 1-token last chunk would round attention probabilities like a decode step
    const whole = await collect(engine.generate({ prompt, sampling: sampling({ maxTokens: 6 }) }));
    const chunked = new Engine(engine.model, engine.tokenizer, { ...engine.config, maxBatchTokens: 4 });
    expect(ids(await collect(chunked.generate({ prompt, sampling: sampling({ maxTokens: 6 }) })))).toEqual(ids(whole));

    // A running stream keeps getting tokens while the long prompt is prefilled chunk by chunk.
    const order: string[] = [];
    let started!: () => void;
    const aStarted = new Promise<void>((res) => (started = res));
    const a = collect(chunked.generate({ prompt: 'a', sampling: sampling({ maxTokens: 40 }) }), () => {
      order.push('a');
      started();
    });
    await aStarted;
    const b = collect(chunked.generate({ prompt, sampling: sampling({ maxTokens: 2 }) }), () => order.push('b'));
    await Promise.all([a, b]);
    const firstB = order.indexOf('b');
    expect(firstB).toBeGreaterThan(0);
    // ceil(n / 4) chunks, each followed by a decode step for the running stream.
    expect(order.slice(1, firstB).filter((x) => x === 'a').length).toBeGreaterThanOrEqual(Math.ceil(n / 4) - 2);
  });

  it('rejects requests beyond the bounded queue with OVERLOADED, and cancels waiting ones', async () => {
    const tight = new Engine(engine.model, engine.tokenizer, { ...engine.config, maxBatch: 1, maxQueue: 1 });
    const ac = new AbortController();
    const a = tight.generate({ prompt: 'a', sampling: sampling({ maxTokens: 200 }) }, ac.signal)[Symbol.asyncIterator]();
    expect((await a.next()).value).toMatchObject({ type: 'token' });
    const waitingAc = new AbortController();
    const b = collect(tight.generate({ prompt: 'b', sampling: sampling({ maxTokens: 4 }) }, waitingAc.signal));
    await new Promise((res) => setTimeout(res, 0));
    expect(tight.stats.waiting).toBe(1);
    const c = tight.generate({ prompt: 'c', sampling: sampling() })[Symbol.asyncIterator]();
    await expect(c.next()).rejects.toSatisfy((e: unknown) => TrineError.is(e, 'OVERLOADED'));
    waitingAc.abort();
    const bResult = await b;
    expect(bResult.done.finishReason).toBe('cancelled');
    expect(bResult.tokens.length).toBe(0);
    ac.abort();
    for (;;) if ((await a.next()).done) break;
    expect(tight.stats).toMatchObject({ active: 0, waiting: 0 });
  });

  it('rejects bad requests with the field named', async () => {
    const expectField = async (request: GenerateRequest, field: string): Promise<void> => {
      const it = engine.generate(request)[Symbol.asyncIterator]();
      await expect(it.next()).rejects.toSatisfy((e: unknown) => TrineError.is(e, 'INVALID_ARGUMENT') && e.field === field);
    };
    await expectField({ prompt: 'x', sampling: sampling({ maxTokens: 0 }) }, 'max_tokens');
    await expectField({ prompt: 'x', sampling: sampling({ topP: 2 }) }, 'top_p');
    await expectField({ prompt: 'word '.repeat(200), sampling: sampling() }, 'prompt');
    await expectField({ messages: [], sampling: sampling() }, 'messages');
  });
});

describe('Engine faults and shutdown', () => {
  it('a failed step fails the streams in it with the error, and the engine keeps serving', async () => {
    // Fault injection around the real model: the third forward pass reports a lost device.
    let calls = 0;
    const flaky: StepModel = {
      config: engine.model.config,
      backend: engine.model.backend,
      forward: (step) => {
        if (++calls === 3) throw new TrineError('DEVICE_LOST', 'device lost (injected)');
        return engine.model.forward(step);
      },
    };
    const e = new Engine(flaky, engine.tokenizer, engine.config);
    await expect(collect(e.generate({ prompt: 'abc', sampling: sampling() }))).rejects.toSatisfy((err: unknown) => TrineError.is(err, 'DEVICE_LOST'));
    expect(e.stats.active).toBe(0);
    const after = await collect(e.generate({ prompt: 'abc', sampling: sampling({ maxTokens: 3 }) }));
    expect(after.tokens.length).toBe(3);
  });

  it('close() ends running and waiting streams as cancelled and refuses new ones', async () => {
    const e = new Engine(engine.model, engine.tokenizer, { ...engine.config, maxBatch: 1, maxQueue: 2 });
    const running = collect(e.generate({ prompt: 'a', sampling: sampling({ maxTokens: 100 }) }));
    const waiting = collect(e.generate({ prompt: 'b', sampling: sampling({ maxTokens: 100 }) }));
    await new Promise((res) => setTimeout(res, 20));
    await e.close();
    expect((await running).done.finishReason).toBe('cancelled');
    expect((await waiting).done.finishReason).toBe('cancelled');
    const it = e.generate({ prompt: 'c', sampling: sampling() })[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toSatisfy((err: unknown) => TrineError.is(err, 'CANCELLED'));
  });
});

describe('Engine.load inputs', () => {
  it('loads GGUF bytes (no file system needed) and matches the cached default model', async () => {
    const e = await Engine.load({ model: buildDefaultModelBytes(buildDefaultTokenizerSpec()), backend: referenceBackendFactory, maxBatch: 1, context: 32 });
    try {
      const request: GenerateRequest = { prompt: 'Hello', sampling: sampling({ maxTokens: 4 }) };
      expect(ids(await collect(e.generate(request)))).toEqual(ids(await collect(engine.generate(request))));
      expect(e.modelName).toBe(engine.modelName);
    } finally {
      await e.close();
    }
  });

  it('rejects a context beyond the model and a backend that cannot start, naming them', async () => {
    await expect(Engine.load({ backend: referenceBackendFactory, cacheDir: dir, context: 100_000 })).rejects.toSatisfy(
      (e: unknown) => TrineError.is(e, 'INVALID_ARGUMENT') && e.field === 'context',
    );
    const nosuch = { name: 'nosuch', priority: 0, create: () => Promise.reject(new Error('not on this host')) };
    await expect(Engine.load({ backend: nosuch, cacheDir: dir })).rejects.toSatisfy(
      (e: unknown) => TrineError.is(e, 'BACKEND_UNAVAILABLE') && e.field === 'backend',
    );
  });
});

describe('Engine end-of-generation', () => {
  it('stops at the EOS token without emitting it', async () => {
    // A real file whose EOS is the token the model greedily produces 3rd: generation must stop right there.
    const greedy = ids(await collect(engine.generate({ prompt: 'The quick brown fox', sampling: sampling() })));
    const eos = greedy[2]!;
    const spec = { ...buildDefaultTokenizerSpec(), eosId: eos };
    const { metadata, tensors } = defaultModelContents(spec);
    const path = join(dir, 'eos.gguf');
    await writeGgufFile(path, metadata, tensors);
    const e = await Engine.load({ model: path, backend: referenceBackendFactory, maxBatch: 1, context: 64 });
    try {
      const r = await collect(e.generate({ prompt: 'The quick brown fox', sampling: sampling() }));
      expect(r.done.finishReason).toBe('stop');
      expect(ids(r)).toEqual(greedy.slice(0, greedy.indexOf(eos)));
      expect(r.done.usage.outputTokens).toBe(greedy.indexOf(eos));
    } finally {
      await e.close();
    }
  });
});
