/**
 * The gateway's request pipeline, the same for every front: each operation is a chain of steps (steps.ts) run one
 * after another through the observer, the one seam where metrics and tracing attach. A front builds a Call, calls
 * `generate` / `tokenize` / `listModels`, and maps the outcome (or the TrineError) onto its own wire.
 */
import { randomUUID } from 'node:crypto';
import type { GenerateRequest, TokenizeRequest } from '@trine/proto';
import type { ApiKeyAuth } from '../auth.js';
import type { ResponseCache } from '../cache.js';
import type { ModelCatalog } from '../catalog.js';
import type { ContentPolicy } from '../policy.js';
import type { JobQueue } from '../queue.js';
import type { RateLimiter } from '../rate-limit.js';
import type { RequestLimits } from '../validate.js';
import { relay } from './relay-step.js';
import { admission, authenticate, cached, decoded, enqueue, listModels, open, promptPolicy, rateLimit, tokenize, validate } from './steps.js';
import {
  ANSWERED,
  type Call,
  type GenerateContext,
  type GenerateSink,
  type ListModelsContext,
  type PipelineEvent,
  type PipelineObserver,
  type RequestContext,
  type Step,
  type TokenizeContext,
} from './types.js';

export interface PipelineDeps {
  readonly catalog: () => ModelCatalog;
  readonly queue: JobQueue;
  readonly auth: ApiKeyAuth;
  readonly rateLimiter?: RateLimiter;
  readonly cache?: ResponseCache;
  readonly policy: ContentPolicy;
  readonly limits: RequestLimits;
  /** Jobs waiting + running beyond which requests are refused at once (RESOURCE_EXHAUSTED). */
  readonly maxQueue: number;
  /** Upper bound on a request's life when the client sets no deadline. */
  readonly maxRequestMs: number;
  /** While false (warm-up, shutdown), requests get UNAVAILABLE. */
  readonly accepting: () => boolean;
  readonly observer: PipelineObserver;
  /** Generations in flight, so shutdown can wait for them. */
  readonly inflight: Set<Promise<unknown>>;
}

/**
 * Runs `steps` in order through the seam until one answers or the last is done; the seam hears the request
 * arrive, and how it ended. Rejects with what a step threw.
 */
export async function runSteps<C extends RequestContext>(steps: readonly Step<C>[], ctx: C, observer: PipelineObserver): Promise<void> {
  const emit = (e: PipelineEvent): void => observer.event(ctx, e);
  emit({ type: 'received' });
  try {
    for (const step of steps) if ((await observer.step(step.name, ctx, async () => step.run(ctx, emit))) === ANSWERED) break;
  } catch (e) {
    emit({ type: 'failed', error: e });
    throw e;
  }
  emit({ type: 'completed' });
}

export class Pipeline {
  private readonly generateSteps: readonly Step<GenerateContext>[];
  private readonly tokenizeSteps: readonly Step<TokenizeContext>[];
  private readonly listSteps: readonly Step<ListModelsContext>[];

  constructor(private readonly deps: PipelineDeps) {
    const caller = [open(deps.accepting), authenticate(deps.auth), decoded];
    this.generateSteps = [
      ...caller,
      ...(deps.rateLimiter ? [rateLimit(deps.rateLimiter)] : []),
      validate(deps.catalog, deps.limits),
      promptPolicy(deps.policy),
      ...(deps.cache ? [cached(deps.cache)] : []),
      admission(deps.maxRequestMs),
      enqueue(deps.queue, deps.maxQueue),
      relay(deps.queue, deps.policy),
    ];
    this.tokenizeSteps = [...caller, tokenize(deps.catalog, deps.limits)];
    this.listSteps = [...caller, listModels(deps.catalog)];
  }

  /** Generates into `sink`; resolves once the answer went out (its `done`), rejects with why it did not. */
  generate(call: Call<GenerateRequest>, sink: GenerateSink): Promise<void> {
    const ctx: GenerateContext = { operation: 'generate', call, sink, apiKey: '', requestId: randomUUID(), acceptedAt: Date.now(), t0: performance.now() };
    const running = runSteps(this.generateSteps, ctx, this.deps.observer);
    this.deps.inflight.add(running);
    void running.finally(() => this.deps.inflight.delete(running)).catch(() => undefined);
    return running;
  }

  async tokenize(call: Call<TokenizeRequest>): Promise<number[]> {
    const ctx: TokenizeContext = { operation: 'tokenize', call, apiKey: '' };
    await runSteps(this.tokenizeSteps, ctx, this.deps.observer);
    return ctx.tokenIds!;
  }

  async listModels(call: Call<unknown>): Promise<NonNullable<ListModelsContext['models']>> {
    const ctx: ListModelsContext = { operation: 'list-models', call, apiKey: '' };
    await runSteps(this.listSteps, ctx, this.deps.observer);
    return ctx.models!;
  }
}
