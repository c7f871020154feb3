/**
 * The request's steps, one small function each, in the order a Generate takes them: open → auth → decoded →
 * rate limit → validate → policy → cache → admission → enqueue → relay (relay-step.ts). Each throws a TrineError
 * to refuse, or answers and stops the chain (a cache hit); the fronts map errors to their statuses at the edge.
 */
import { context, propagation } from '@opentelemetry/api';
import { TrineError, invalidArgument } from '@trine/core';
import type { ApiKeyAuth } from '../auth.js';
import { cacheKey, type ResponseCache } from '../cache.js';
import type { ModelCatalog } from '../catalog.js';
import type { ContentPolicy } from '../policy.js';
import type { JobQueue } from '../queue.js';
import type { RateLimiter } from '../rate-limit.js';
import { validateGenerate, validateTokenize, type RequestLimits } from '../validate.js';
import { ANSWERED, type Call, type GenerateContext, type ListModelsContext, type RequestContext, type Step, type TokenizeContext } from './types.js';

type Ctx = RequestContext & { readonly call: Call<unknown> };

/** While the server is not serving (warming up, shutting down), every request is UNAVAILABLE. */
export const open = (accepting: () => boolean): Step<RequestContext> => ({
  name: 'open',
  run() {
    if (!accepting()) throw new TrineError('UNAVAILABLE', 'the server is not serving (warming up or shutting down)');
  },
});

export const authenticate = (auth: ApiKeyAuth): Step<Ctx> => ({
  name: 'auth',
  run(ctx) {
    ctx.apiKey = auth.check(ctx.call.authorization);
  },
});

/** A body the transport could not decode is refused once the caller is known (not before auth). */
export const decoded: Step<Ctx> = {
  name: 'decoded',
  run(ctx) {
    if (ctx.call.undecodable !== undefined) throw invalidArgument(ctx.call.undecodableField ?? 'request', ctx.call.undecodable);
  },
};

export const rateLimit = (limiter: RateLimiter): Step<RequestContext> => ({
  name: 'rate-limit',
  run: (ctx) => limiter.take(ctx.apiKey),
});

export const validate = (catalog: () => ModelCatalog, limits: RequestLimits): Step<GenerateContext> => ({
  name: 'validate',
  async run(ctx) {
    ctx.validated = await validateGenerate(ctx.call.request, catalog(), limits);
  },
});

export const promptPolicy = (policy: ContentPolicy): Step<GenerateContext> => ({
  name: 'policy',
  run(ctx) {
    const verdict = policy.checkPrompt(validated(ctx).request);
    if (!verdict.allowed) throw new TrineError('POLICY_DENIED', verdict.reason);
  },
});

/**
 * Deterministic requests (greedy, or a client seed) are answered from the cache when it holds them; a miss goes
 * on and its answer is stored before it goes out. The cache is an optimization: if it cannot answer, generate.
 */
export const cached = (cache: ResponseCache): Step<GenerateContext> => ({
  name: 'cache',
  async run(ctx, emit) {
    const v = validated(ctx);
    if (!v.deterministic) return;
    const key = cacheKey(v.model, v.request, ctx.call.request.seed !== undefined);
    const hit = await cache.get(key).catch(() => undefined);
    emit({ type: 'cache', hit: hit !== undefined });
    if (!hit) {
      ctx.remember = (result) => (result.finish === 'cancelled' ? Promise.resolve() : cache.set(key, result).catch(() => undefined));
      return;
    }
    ctx.cached = true;
    await ctx.sink.tokens(hit.tokens);
    const ms = performance.now() - ctx.t0;
    await ctx.sink.done({ ...hit, cached: true, id: ctx.requestId, model: v.model, timings: { queueMs: 0, timeToFirstTokenMs: ms, prefillMs: 0, decodeMs: 0, perTokenMs: 0, totalMs: ms } });
    return ANSWERED;
  },
});

/** The request's deadline: the client's, bounded by `maxRequestMs`; one already past is not queued. */
export const admission = (maxRequestMs: number): Step<GenerateContext> => ({
  name: 'admission',
  run(ctx) {
    ctx.deadline = Math.min(ctx.call.deadline, ctx.acceptedAt + maxRequestMs);
    if (ctx.deadline <= Date.now()) throw new TrineError('DEADLINE_EXCEEDED', 'the deadline passed before the request was queued');
  },
});

/** Queues the job unless `maxQueue` jobs wait or run (the check and the add are one atomic step in the queue). */
export const enqueue = (queue: JobQueue, maxQueue: number): Step<GenerateContext> => ({
  name: 'enqueue',
  async run(ctx) {
    const v = validated(ctx);
    // The job carries the active trace context, so the worker's spans join the request's trace.
    const trace: Record<string, string> = {};
    propagation.inject(context.active(), trace);
    const job = { requestId: ctx.requestId, model: v.model, request: v.request, deadline: ctx.deadline!, acceptedAt: ctx.acceptedAt, trace };
    if (!(await queue.submit(job, maxQueue, v.promptIds ? { promptIds: v.promptIds } : undefined))) throw new TrineError('OVERLOADED', `the queue is full (${maxQueue} requests); retry later`);
  },
});

export const tokenize = (catalog: () => ModelCatalog, limits: RequestLimits): Step<TokenizeContext> => ({
  name: 'tokenize',
  async run(ctx) {
    const { model, text, chat } = validateTokenize(ctx.call.request, limits);
    ctx.tokenIds = await catalog().tokenize(model, text, chat);
  },
});

export const listModels = (catalog: () => ModelCatalog): Step<ListModelsContext> => ({
  name: 'list-models',
  run(ctx) {
    ctx.models = catalog().list();
  },
});

/** The validated request; a chain that runs a step needing it before `validate` is a bug. */
function validated(ctx: GenerateContext): NonNullable<GenerateContext['validated']> {
  if (!ctx.validated) throw new Error('pipeline: a step needs the validated request before validate ran');
  return ctx.validated;
}
