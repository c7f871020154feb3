/**
 * The Inference service handlers. Order per request: auth → rate limit → validation → content policy → cache →
 * admission → enqueue → relay events. Every failure is a TrineError until `toServiceError` at the very edge.
 */
import { randomUUID } from 'node:crypto';
import type { Deadline, Metadata, sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import { context, propagation, trace, SpanKind } from '@opentelemetry/api';
import { TrineError, invalidArgument, type FinishReason as CoreFinish } from '@trine/core';
import {
  FinishReason,
  type GenerateRequest,
  type GenerateResponse,
  type GenerateStreamResponse,
  type ListModelsRequest,
  type ListModelsResponse,
  type Timings,
  type Token,
  type TokenizeRequest,
  type TokenizeResponse,
} from '@trine/proto';
import type { ApiKeyAuth } from './auth.js';
import { cacheKey, type CachedResponse, type CachedToken, type ResponseCache } from './cache.js';
import type { ModelCatalog } from './catalog.js';
import { rejectReasonOf, toServiceError } from './errors.js';
import type { GatewayMetrics } from './metrics.js';
import type { ContentPolicy } from './policy.js';
import type { JobQueue } from './queue.js';
import type { RateLimiter } from './rate-limit.js';
import { StreamRelay, type RelayOutput, type TokenEvent } from './relay.js';
import { wasUndecodable } from './utf8.js';
import { validateGenerate, validateTokenize, type RequestLimits } from './validate.js';

export interface ServiceDeps {
  readonly catalog: () => ModelCatalog;
  readonly queue: JobQueue;
  readonly auth: ApiKeyAuth;
  readonly rateLimiter?: RateLimiter;
  readonly cache?: ResponseCache;
  readonly policy: ContentPolicy;
  readonly metrics: GatewayMetrics;
  readonly limits: RequestLimits;
  /** Jobs waiting + running beyond which requests are refused at once (RESOURCE_EXHAUSTED). */
  readonly maxQueue: number;
  /** Upper bound on a request's life when the client sets no deadline. */
  readonly maxRequestMs: number;
  /** Streams in flight, so shutdown can wait for them. */
  readonly inflight: Set<Promise<unknown>>;
  /** While false (warm-up, shutdown), requests get UNAVAILABLE. */
  readonly accepting: () => boolean;
}

const tracer = trace.getTracer('@trine/gateway');

const FINISH: Record<CoreFinish, FinishReason> = {
  stop: FinishReason.FINISH_REASON_STOP,
  length: FinishReason.FINISH_REASON_LENGTH,
  cancelled: FinishReason.FINISH_REASON_CANCELLED,
};

function toToken(t: CachedToken): Token {
  return { index: t.i, id: t.id, text: t.text, logprob: t.logprob, topLogprobs: (t.top ?? []).map((x) => ({ tokenId: x.tokenId, logprob: x.logprob })) };
}

interface Sink {
  start?(info: { queueMs: number }): void;
  tokens(tokens: readonly CachedToken[]): Promise<void>;
  restart(): Promise<void>;
  done(r: Omit<CachedResponse, 'tokens'> & { cached: boolean; timings: Timings; id: string; model: string }): Promise<void>;
}

/** What the handlers use of any grpc-js server call. */
interface CallLike {
  readonly metadata: Metadata;
  getDeadline(): Deadline;
}

function deadlineOf(call: CallLike, acceptedAt: number, maxMs: number): number {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : typeof d === 'number' && Number.isFinite(d) ? d : Infinity;
  return Math.min(ms, acceptedAt + maxMs);
}

export class InferenceHandlers {
  constructor(private readonly deps: ServiceDeps) {}

  private admitCaller(call: CallLike & { readonly request?: object }): string {
    if (!this.deps.accepting()) throw new TrineError('UNAVAILABLE', 'the server is not serving (warming up or shutting down)');
    const apiKey = this.deps.auth.check(call.metadata);
    if (call.request && wasUndecodable(call.request)) throw invalidArgument('request', 'not a valid protobuf message');
    return apiKey;
  }

  private fail(e: unknown): ReturnType<typeof toServiceError> {
    const reason = rejectReasonOf(e);
    if (reason) this.deps.metrics.reject(reason);
    else if (TrineError.is(e, 'DEADLINE_EXCEEDED')) this.deps.metrics.deadlineExceeded++;
    else if (TrineError.is(e, 'CANCELLED')) this.deps.metrics.cancelled++;
    else this.deps.metrics.failed++;
    return toServiceError(e);
  }

  /** The shared path of Generate and GenerateStream. */
  private async run(call: CallLike & { request: GenerateRequest }, sink: Sink, cancelled: AbortSignal): Promise<void> {
    const { deps } = this;
    const acceptedAt = Date.now();
    const t0 = performance.now();
    deps.metrics.requests++;
    const apiKey = this.admitCaller(call);
    if (deps.rateLimiter) await deps.rateLimiter.take(apiKey);
    const v = await validateGenerate(call.request, deps.catalog(), deps.limits);
    const verdict = deps.policy.checkPrompt(v.request);
    if (!verdict.allowed) throw new TrineError('POLICY_DENIED', verdict.reason);
    const requestId = randomUUID();

    const key = v.deterministic && deps.cache ? cacheKey(v.model, v.request, call.request.seed !== undefined) : undefined;
    if (key && deps.cache) {
      // The cache is an optimization: if it cannot answer, generate.
      const hit = await deps.cache.get(key).catch(() => undefined);
      if (hit) {
        deps.metrics.cacheHits++;
        await sink.tokens(hit.tokens);
        const ms = performance.now() - t0;
        await sink.done({ ...hit, cached: true, id: requestId, model: v.model, timings: { queueMs: 0, timeToFirstTokenMs: ms, prefillMs: 0, decodeMs: 0, perTokenMs: 0, totalMs: ms } });
        deps.metrics.completed++;
        return;
      }
      deps.metrics.cacheMisses++;
    }

    const deadline = deadlineOf(call, acceptedAt, deps.maxRequestMs);
    if (deadline <= Date.now()) throw new TrineError('DEADLINE_EXCEEDED', 'the deadline passed before the request was queued');

    await tracer.startActiveSpan('gateway.enqueue', { kind: SpanKind.PRODUCER, attributes: { 'trine.request_id': requestId } }, async (span) => {
      try {
        const carrier: Record<string, string> = {};
        propagation.inject(context.active(), carrier);
        const queued = await deps.queue.submit({ requestId, model: v.model, request: v.request, deadline, acceptedAt, trace: carrier }, deps.maxQueue);
        if (!queued) throw new TrineError('OVERLOADED', `the queue is full (${deps.maxQueue} requests); retry later`);
      } finally {
        span.end();
      }
    });

    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort('deadline'), Math.max(0, deadline - Date.now()));
    const onCancel = (): void => stop.abort('cancel');
    cancelled.addEventListener('abort', onCancel, { once: true });
    const relay = new StreamRelay();
    const collected: CachedToken[] = [];
    let responseText = '';
    let firstTokenMs = 0;
    let queueMs = 0;
    let finished = false;
    try {
      // The tokens of one batch (the events that arrived together) go to the client in one message.
      const deliver = async (tokens: readonly TokenEvent[]): Promise<void> => {
        if (tokens.length === 0) return;
        if (firstTokenMs === 0) firstTokenMs = performance.now() - t0;
        const toks = tokens.map((t) => ({ i: t.i, id: t.id, text: t.text, ...(t.logprob !== undefined ? { logprob: t.logprob } : {}), ...(t.top ? { top: t.top } : {}) }));
        collected.push(...toks);
        responseText += toks.map((t) => t.text).join('');
        const rv = deps.policy.checkResponse(responseText);
        if (!rv.allowed) throw new TrineError('POLICY_DENIED', rv.reason);
        await sink.tokens(toks);
      };
      for await (const batch of deps.queue.events(requestId, stop.signal)) {
        if (stop.signal.aborted) break;
        const pending: TokenEvent[] = [];
        for (const ev of batch) {
          let outs: RelayOutput[];
          try {
            outs = relay.push(ev);
          } catch (e) {
            await deliver(pending); // what came before the error still reaches the client, then the error
            throw e;
          }
          for (const out of outs) {
            if (out.kind === 'tokens') {
              pending.push(...out.tokens);
              continue;
            }
            await deliver(pending.splice(0));
            if (out.kind === 'start') queueMs = out.queueMs;
            else if (out.kind === 'restart') {
              collected.length = 0;
              responseText = '';
              await sink.restart();
            } else {
              const rv = deps.policy.checkResponse(responseText + out.text);
              if (!rv.allowed) throw new TrineError('POLICY_DENIED', rv.reason);
              finished = true;
              const totalMs = performance.now() - t0;
              const timings: Timings = {
                queueMs,
                timeToFirstTokenMs: firstTokenMs || totalMs,
                prefillMs: out.timings.prefillMs,
                decodeMs: out.timings.decodeMs,
                perTokenMs: out.timings.perTokenMs,
                totalMs,
              };
              const result: CachedResponse = { tokens: collected, tail: out.text, finish: out.finish, usage: out.usage, timings: out.timings };
              if (key && deps.cache && out.finish !== 'cancelled') await deps.cache.set(key, result).catch(() => undefined);
              await sink.done({ ...result, cached: false, id: requestId, model: v.model, timings });
              deps.metrics.completed++;
              deps.metrics.restartsContinued += relay.restarts.continued;
              deps.metrics.restartsSignalled += relay.restarts.signalled;
              return;
            }
          }
        }
        await deliver(pending);
      }
      if (stop.signal.reason === 'deadline') throw new TrineError('DEADLINE_EXCEEDED', 'deadline exceeded');
      throw new TrineError('CANCELLED', 'cancelled by the client');
    } finally {
      clearTimeout(timer);
      cancelled.removeEventListener('abort', onCancel);
      // Whatever ended the call early (client cancel, deadline, policy, an error), the job must stop too.
      if (!finished) await deps.queue.cancel(requestId).catch(() => undefined);
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.deps.inflight.add(p);
    void p.finally(() => this.deps.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  generateStream = (call: ServerWritableStream<GenerateRequest, GenerateStreamResponse>): void => {
    const cancelled = new AbortController();
    call.on('cancelled', () => cancelled.abort());
    // Back-pressure: wait for 'drain' — unless the call is gone, in which case no drain will ever come.
    const write = (msg: GenerateStreamResponse): Promise<void> =>
      new Promise((resolve) => {
        if (call.cancelled || call.write(msg)) return resolve();
        const done = (): void => {
          call.off('drain', done);
          cancelled.signal.removeEventListener('abort', done);
          resolve();
        };
        call.once('drain', done);
        cancelled.signal.addEventListener('abort', done, { once: true });
      });
    const empty = { id: '', tokens: [], text: '', restarted: false, done: false, finishReason: FinishReason.FINISH_REASON_UNSPECIFIED, usage: undefined, timings: undefined, cached: false, model: '' };
    const sink: Sink = {
      tokens: (ts) => write({ ...empty, tokens: ts.map(toToken), text: ts.map((t) => t.text).join('') }),
      restart: () => write({ ...empty, restarted: true }),
      done: (r) =>
        write({ ...empty, id: r.id, model: r.model, text: r.tail, done: true, finishReason: FINISH[r.finish], usage: r.usage, timings: r.timings, cached: r.cached }),
    };
    void this.track(
      this.run(call, sink, cancelled.signal).then(
        () => call.end(),
        (e: unknown) => {
          if (!call.cancelled) call.emit('error', this.fail(e));
          else this.fail(e);
        },
      ),
    );
  };

  generate = (call: ServerUnaryCall<GenerateRequest, GenerateResponse>, callback: sendUnaryData<GenerateResponse>): void => {
    const cancelled = new AbortController();
    call.on('cancelled', () => cancelled.abort());
    let tokens: CachedToken[] = [];
    const sink: Sink = {
      tokens: async (ts) => void tokens.push(...ts),
      restart: async () => void (tokens = []),
      done: async (r) =>
        callback(null, {
          id: r.id,
          model: r.model,
          text: tokens.map((t) => t.text).join('') + r.tail,
          tokenIds: tokens.map((t) => t.id),
          finishReason: FINISH[r.finish],
          usage: r.usage,
          timings: r.timings,
          cached: r.cached,
          tokens: call.request.topLogprobs ? tokens.map(toToken) : [],
        }),
    };
    void this.track(this.run(call, sink, cancelled.signal).catch((e: unknown) => callback(this.fail(e))));
  };

  tokenize = (call: ServerUnaryCall<TokenizeRequest, TokenizeResponse>, callback: sendUnaryData<TokenizeResponse>): void => {
    void (async () => {
      this.deps.metrics.requests++;
      this.admitCaller(call);
      const { model, text, chat } = validateTokenize(call.request, this.deps.limits);
      const ids = await this.deps.catalog().tokenize(model, text, chat);
      callback(null, { tokenIds: ids });
    })().catch((e: unknown) => callback(this.fail(e)));
  };

  listModels = (call: ServerUnaryCall<ListModelsRequest, ListModelsResponse>, callback: sendUnaryData<ListModelsResponse>): void => {
    try {
      this.admitCaller(call);
      const models = this.deps.catalog().list();
      callback(null, { models: models.map((m, i) => ({ name: m.name, contextLength: m.contextLength, vocabSize: m.vocabSize, isDefault: i === 0 })) });
    } catch (e) {
      callback(this.fail(e));
    }
  };
}
