/**
 * The request pipeline on its own, with no transport: real parts (the engine thread behind the standalone queue,
 * the memory cache and rate limiter, GatewayMetrics) and an observer that writes down which steps ran.
 */
import { GenerateRequest } from '@trine/proto';
import { EngineHost } from '@trine/serving';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyAuth } from '../auth.js';
import { MemoryResponseCache } from '../cache.js';
import { SingleModelCatalog } from '../catalog.js';
import { LocalJobQueue } from '../local-queue.js';
import { GatewayMetrics } from '../metrics.js';
import { allowAll } from '../policy.js';
import { MemoryRateLimiter } from '../rate-limit.js';
import { DEFAULT_LIMITS } from '../validate.js';
import { countInto, observeWith } from './observe.js';
import { Pipeline, type PipelineDeps } from './pipeline.js';
import type { Call, FinalResult, GenerateSink, PipelineObserver } from './types.js';

let host: EngineHost;

beforeAll(async () => {
  host = await EngineHost.start({ backend: 'reference', maxBatch: 4 });
}, 120_000);

afterAll(async () => {
  await host?.close();
});

/** Writes down the steps in the order they ran. */
function stepLog(): PipelineObserver & { readonly steps: string[] } {
  const steps: string[] = [];
  return { steps, step: (name, _ctx, run) => (steps.push(name), run()), event: () => undefined };
}

function setup(overrides: Partial<PipelineDeps> = {}) {
  const metrics = new GatewayMetrics();
  const log = stepLog();
  const queue = new LocalJobQueue(host, 4);
  const pipeline = new Pipeline({
    catalog: () => new SingleModelCatalog(host),
    queue,
    auth: new ApiKeyAuth(['k1'], '127.0.0.1'),
    policy: allowAll,
    limits: DEFAULT_LIMITS,
    maxQueue: 16,
    maxRequestMs: 60_000,
    accepting: () => true,
    inflight: new Set(),
    observer: observeWith(log, countInto(metrics)),
    ...overrides,
  });
  return { pipeline, metrics, steps: log.steps, queue };
}

function call(request: Partial<GenerateRequest>, extra: Partial<Call<GenerateRequest>> = {}): Call<GenerateRequest> {
  return { request: GenerateRequest.fromPartial(request), authorization: 'Bearer k1', deadline: Infinity, signal: new AbortController().signal, ...extra };
}

/** Collects what a front would send. */
function sink(): GenerateSink & { tokens_: number[]; final?: FinalResult } {
  const s: GenerateSink & { tokens_: number[]; final?: FinalResult } = {
    tokens_: [],
    tokens: async (ts) => void s.tokens_.push(...ts.map((t) => t.id)),
    restart: async () => void (s.tokens_ = []),
    done: async (r) => void (s.final = r),
  };
  return s;
}

const GENERATE_STEPS = ['open', 'auth', 'decoded', 'validate', 'policy', 'admission', 'enqueue', 'relay'];

describe('request pipeline', () => {
  it('runs every step in order and ends with the answer, counted as completed', async () => {
    const { pipeline, metrics, steps } = setup();
    const out = sink();
    await pipeline.generate(call({ prompt: 'Once upon a time', maxTokens: 4, temperature: 0.8, seed: 7n }), out);
    expect(steps).toEqual(GENERATE_STEPS);
    expect(out.tokens_).toHaveLength(out.final!.usage.outputTokens);
    expect(out.final).toMatchObject({ cached: false, model: host.info.name });
    expect(metrics.snapshot()).toMatchObject({ requests: 1, completed: 1, failed: 0 });
  });

  it('a step that refuses stops the chain, and the seam still records the outcome', async () => {
    const { pipeline, metrics, steps, queue } = setup();
    const out = sink();
    await expect(pipeline.generate(call({ prompt: 'hi' }, { authorization: undefined }), out)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(steps).toEqual(['open', 'auth']);
    expect(out.final).toBeUndefined();
    expect(await queue.depth()).toBe(0);
    expect(metrics.requests).toBe(1);
    expect(metrics.rejections.auth).toBe(1);
    expect(metrics.completed).toBe(0);
  });

  it('refuses while not serving, before it looks at the caller', async () => {
    const { pipeline, metrics, steps } = setup({ accepting: () => false });
    await expect(pipeline.generate(call({ prompt: 'hi' }, { authorization: undefined }), sink())).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(steps).toEqual(['open']);
    expect(metrics.rejections.unavailable).toBe(1);
  });

  it('an undecodable body is refused after auth, naming the request', async () => {
    const { pipeline, steps } = setup();
    const garbled = { undecodable: 'not a valid protobuf message' };
    await expect(pipeline.generate(call({}, { ...garbled, authorization: undefined }), sink())).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(pipeline.generate(call({}, garbled), sink())).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'request' });
    expect(steps).toEqual(['open', 'auth', 'open', 'auth', 'decoded']);
  });

  it('the rate limit runs before validation and refuses the call over the limit', async () => {
    const { pipeline, metrics, steps } = setup({ rateLimiter: new MemoryRateLimiter({ limit: 1, windowMs: 60_000 }) });
    await expect(pipeline.generate(call({ prompt: 'x', maxTokens: 0 }), sink())).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'max_tokens' });
    await expect(pipeline.generate(call({ prompt: 'x', maxTokens: 1 }), sink())).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(steps).toEqual(['open', 'auth', 'decoded', 'rate-limit', 'validate', 'open', 'auth', 'decoded', 'rate-limit']);
    expect(metrics.rejections).toMatchObject({ validation: 1, rate_limit: 1 });
  });

  it('a deadline already past is refused at admission: nothing is queued', async () => {
    const { pipeline, metrics, steps, queue } = setup();
    await expect(pipeline.generate(call({ prompt: 'late' }, { deadline: Date.now() - 1 }), sink())).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(steps.at(-1)).toBe('admission');
    expect(await queue.depth()).toBe(0);
    expect(metrics.deadlineExceeded).toBe(1);
  });

  it('a full queue refuses at enqueue with OVERLOADED', async () => {
    const { pipeline, metrics, steps } = setup({ maxQueue: 0 });
    await expect(pipeline.generate(call({ prompt: 'one more' }), sink())).rejects.toMatchObject({ code: 'OVERLOADED' });
    expect(steps.at(-1)).toBe('enqueue');
    expect(metrics.rejections.overload).toBe(1);
  });

  it('a cache hit answers at the cache step; the steps after it never run', async () => {
    const { pipeline, metrics, steps } = setup({ cache: new MemoryResponseCache(60_000) });
    const request = { prompt: 'cache me', maxTokens: 5, temperature: 0 };
    const first = sink();
    await pipeline.generate(call(request), first);
    const second = sink();
    await pipeline.generate(call(request), second);
    const cacheAt = GENERATE_STEPS.indexOf('policy') + 1;
    const withCache = [...GENERATE_STEPS.slice(0, cacheAt), 'cache', ...GENERATE_STEPS.slice(cacheAt)];
    expect(steps).toEqual([...withCache, ...withCache.slice(0, cacheAt + 1)]);
    expect(second.final?.cached).toBe(true);
    expect(second.tokens_).toEqual(first.tokens_);
    expect(metrics.snapshot()).toMatchObject({ cache_misses: 1, cache_hits: 1, completed: 2 });
  });

  it('a client that goes away ends the relay with CANCELLED, counted as cancelled', async () => {
    const { pipeline, metrics, queue } = setup();
    const client = new AbortController();
    const out = sink();
    const first = new Promise<void>((resolve) => (out.tokens = async () => resolve()));
    const running = pipeline.generate(call({ prompt: 'long', maxTokens: 200, temperature: 1, seed: 1n }, { signal: client.signal }), out);
    await first;
    client.abort();
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(metrics.cancelled).toBe(1);
    // The relay stopped the job too: it leaves the queue once the engine has let go of it.
    for (let i = 0; i < 500 && (await queue.depth()) > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await queue.depth()).toBe(0);
  });

  it('observers nest in the order given: the first wraps the others', async () => {
    const order: string[] = [];
    const tag = (t: string): PipelineObserver => ({
      step: async (name, _ctx, run) => {
        order.push(`${t}>${name}`);
        const r = await run();
        order.push(`${t}<${name}`);
        return r;
      },
      event: (_ctx, e) => void order.push(`${t}:${e.type}`),
    });
    const { pipeline } = setup({ observer: observeWith(tag('a'), tag('b')), accepting: () => false });
    await expect(pipeline.listModels(call({}))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(order).toEqual(['a:received', 'b:received', 'a>open', 'b>open', 'a:failed', 'b:failed']);
  });
});
