/**
 * The engine: a `TextGenerator` over one loaded BitNet model, with continuous batching.
 *
 * One step loop owns the model. Each step is either one chunk of a new sequence's prefill (its own forward pass), or
 * one decode step that feeds the last token of every active sequence at once. New requests join between steps, finished
 * ones leave between steps and free their KV slot. Every sequence keeps its own sampler and PRNG, and the model's
 * math is per row, so a stream's tokens do not depend on what else shares its steps.
 */
import { context, trace, SpanStatusCode, type Context, type Link, type Span } from '@opentelemetry/api';
import { TrineError, invalidArgument } from '../errors/index.js';
import type { BackendFactory, BackendInfo, KernelBackend, MatrixFormat, TensorDesc } from '../kernels/spec.js';
import { resolveBackend } from '../kernels/registry.js';
import { referenceBackendFactory } from '../reference/index.js';
import { openModel } from '../formats/open-model.js';
import { BitNetModel, type ForwardStep, type RoundProbsPolicy } from '../model/bitnet.js';
import { createTokenizer } from '../tokenizer/tokenizer.js';
import { ensureDefaultModel } from '../default-model/cache.js';
import { buildDefaultModelBytes } from '../default-model/build.js';
import { buildDefaultTokenizerSpec } from '../tokenizer/default.js';
import type { ByteSource } from '../formats/byte-source.js';
import type { BitNetConfig } from '../model/config.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { GenerateEvent, GenerateRequest, TextGenerator } from '../generate/types.js';
import { argmaxFirst, validateSampling } from '../generate/sampling.js';
import { yieldToEventLoop } from './channel.js';
import { PrefixCache } from './prefix-cache.js';
import { Sequence } from './sequence.js';
import { createConstraint } from '../constrain/index.js';
import { promptTokenIds, tokenizeText } from './tokenize.js';

type SampledToken = { tokenId: number; logprob?: number; topLogprobs?: readonly { tokenId: number; logprob: number }[] };

/** What the engine needs of a loaded model; `BitNetModel` provides it. */
export interface StepModel {
  readonly config: BitNetConfig;
  readonly backend: KernelBackend;
  /** Returns the logits tensor [logitsFor.length, vocab] (valid until the next call). */
  forward(step: ForwardStep): TensorDesc | Promise<TensorDesc>;
  /** When attention rounds probabilities to f16 (absent: 'single-token', the policy that allows the least reuse). */
  readonly roundProbsF16?: RoundProbsPolicy;
  /** Element type of the KV cache (absent: f16), for the bytes the prefix cache holds. */
  readonly kvDtype?: 'f16' | 'f32';
}

export interface EngineConfig {
  /** Sequences decoded together (= KV slots the model was loaded with). */
  readonly maxBatch: number;
  /** Positions per KV slot. */
  readonly context: number;
  /** Tokens one forward pass carries (≤ the model's): prompts are prefilled in chunks of this size, one per step. */
  readonly maxBatchTokens: number;
  /** Requests that may wait for a slot; beyond it `generate` fails with OVERLOADED. */
  readonly maxQueue: number;
  /** Shown as `modelName`. */
  readonly name: string;
  /** Positions the free KV slots may keep for later prompts that start the same way (absent or 0: no prefix cache). */
  readonly prefixCacheTokens?: number;
  /** Positions per prefix-cache block (default 32): prefixes are reused in whole blocks. */
  readonly prefixBlockTokens?: number;
  /** Prompt-lookup draft tokens for requests that do not set `promptLookup` (absent or 0: off). */
  readonly promptLookup?: number;
}

/**
 * A request to the engine: `promptLookup` K > 0 lets each decode step draft up to K tokens by matching the last
 * n-gram of the prompt and output earlier in them, and verify them in the same step. The output is the same as
 * without it, greedy or sampled (same seed, same tokens). Absent: the engine's default.
 */
export type EngineRequest = GenerateRequest & { readonly promptLookup?: number };

/** Most draft tokens a request may ask for. */
export const MAX_PROMPT_LOOKUP = 16;
/** Longest n-gram matched when drafting; shorter ones are tried when it has no earlier occurrence. */
const LOOKUP_NGRAM = 3;
/** After drafts rejected outright a sequence waits up to 2^this − 1 decode steps before drafting again. */
const LOOKUP_BACKOFF_LOG2 = 5;
/** After a draft rejected outright, the shortest n-gram match that drafts again (a lone token matches by chance). */
const LOOKUP_NGRAM_AFTER_MISS = 2;

/**
 * Prompt-lookup drafting over the `len` tokens `at(0…len-1)` (prompt then output): up to `k` tokens that followed
 * the most recent earlier occurrence of the last n-gram, for the longest n ≤ 3 (and ≥ `minNgram`) that occurs; none
 * when none does.
 */
export function lookupDraft(len: number, at: (i: number) => number, k: number, minNgram = 1): number[] {
  for (let ng = Math.min(LOOKUP_NGRAM, len - 1); ng >= minNgram; ng--) {
    for (let start = len - ng - 1; start >= 0; start--) {
      let j = 0;
      while (j < ng && at(start + j) === at(len - ng + j)) j++;
      if (j < ng) continue;
      const out: number[] = [];
      for (let i = start + ng; i < len && out.length < k; i++) out.push(at(i));
      return out;
    }
  }
  return [];
}

/** Snapshot of the scheduler, for metrics and tests. */
export interface EngineStats {
  readonly active: number;
  readonly waiting: number;
  readonly steps: number;
  /** Largest number of sequences one decode step carried so far. */
  readonly maxDecodeBatch: number;
  /** Prompt positions taken from the prefix cache instead of prefilled, so far. */
  readonly prefixHitTokens: number;
  /** Positions the KV slots hold for reuse now. */
  readonly prefixHeldTokens: number;
  /** Bytes of KV those positions take (K and V rows of every layer, in the cache's element type). */
  readonly prefixHeldBytes: number;
  /** Prompt lookup: tokens drafted, and those the model's own choice confirmed, so far. */
  readonly draftedTokens: number;
  readonly acceptedTokens: number;
}

/** Load progress: bytes of weights uploaded so far, of the total. */
export interface LoadProgress {
  readonly loadedBytes: number;
  readonly totalBytes: number;
}

export interface EngineLoadOptions {
  /** GGUF file or Hugging Face directory, or GGUF bytes; absent: the embedded default model (random weights). */
  model?: string | Uint8Array | ByteSource;
  /**
   * The backend to run on (absent: the reference backend). Which one a host should run is chosen by the caller:
   * @trine/backends' `selectBackend` for apps.
   */
  backend?: BackendFactory;
  threads?: number;
  /** Sequences decoded together (default 8). */
  maxBatch?: number;
  /** Positions per sequence (default and maximum: the model's context length). */
  context?: number;
  /** Tokens per forward pass (default 512): longer prompts are prefilled in chunks. */
  maxBatchTokens?: number;
  /** Requests that may wait for a slot (default 64). */
  maxQueue?: number;
  /** LM head format: `f16` (default, exact) or `q8` (8-bit, faster, approximate). */
  lmHeadFormat?: MatrixFormat;
  /**
   * Positions of finished sequences kept for reuse by later prompts with the same prefix (default
   * $TRINE_PREFIX_CACHE_TOKENS, else every slot's whole context: the KV memory is allocated anyway); 0 disables.
   */
  prefixCacheTokens?: number;
  /** Positions per prefix-cache block (default 32). */
  prefixBlockTokens?: number;
  /** Prompt-lookup draft tokens for requests that do not ask (default $TRINE_PROMPT_LOOKUP, else 0: off). */
  promptLookup?: number;
  onProgress?: (p: LoadProgress) => void;
  /** Where the default model is cached (default $TRINE_CACHE_DIR or ~/.cache/trine). */
  cacheDir?: string;
}

/** The default model: cached on disk under Node, built in memory where there is no file system (browsers). */
async function defaultModelInput(cacheDir: string | undefined): Promise<string | Uint8Array> {
  const hasFs = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (!hasFs) return buildDefaultModelBytes(buildDefaultTokenizerSpec());
  return ensureDefaultModel(cacheDir !== undefined ? { cacheDir } : {});
}

export const ENGINE_DEFAULTS = { maxBatch: 8, maxBatchTokens: 512, maxQueue: 64, prefixBlockTokens: 32 } as const;

/** An integer environment variable in [0, max] where there is a process environment; undefined when unset. */
function intFromEnv(name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = typeof process !== 'undefined' ? process.env?.[name] : undefined;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0 || n > max) throw invalidArgument(name, `must be an integer in [0, ${max}], got ${JSON.stringify(raw)}`);
  return n;
}

function checkLookup(field: string, v: unknown): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > MAX_PROMPT_LOOKUP))
    throw invalidArgument(field, `must be an integer in [0, ${MAX_PROMPT_LOOKUP}], got ${String(v)}`);
}

// Span and attribute names as in @trine/telemetry (SPAN, ATTR); core depends on @opentelemetry/api only.

/** Runs one engine step inside a span; a no-op span when no SDK is registered. */
async function traced(name: string, parent: Context, links: Link[], attributes: Record<string, number | string>, step: () => Promise<void>): Promise<void> {
  // Looked up per step, not at module load: a tracer taken before the SDK registers (from another copy of the API
  // module, ESM vs CJS) would stay a no-op forever.
  const span: Span = trace.getTracer('@trine/core').startSpan(name, { attributes, links }, parent);
  try {
    await step();
  } catch (e) {
    span.recordException(e instanceof Error ? e : String(e));
    span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    span.end();
  }
}

export class Engine implements TextGenerator {
  /**
   * Opens the model file (or the embedded default), creates the given backend (no fallback: a backend that cannot
   * start is BACKEND_UNAVAILABLE) and loads the weights.
   */
  static async load(options: EngineLoadOptions = {}): Promise<Engine> {
    const maxBatch = options.maxBatch ?? ENGINE_DEFAULTS.maxBatch;
    const maxQueue = options.maxQueue ?? ENGINE_DEFAULTS.maxQueue;
    const maxBatchTokensOpt = options.maxBatchTokens ?? ENGINE_DEFAULTS.maxBatchTokens;
    if (options.prefixCacheTokens !== undefined && (!Number.isSafeInteger(options.prefixCacheTokens) || options.prefixCacheTokens < 0))
      throw invalidArgument('prefixCacheTokens', `must be an integer ≥ 0, got ${String(options.prefixCacheTokens)}`);
    checkLookup('promptLookup', options.promptLookup);
    for (const [field, v] of [['maxBatch', maxBatch], ['maxBatchTokens', maxBatchTokensOpt], ['maxQueue', maxQueue + 1]] as const) {
      if (!Number.isSafeInteger(v) || v < 1 || v > 65536) throw invalidArgument(field, `must be an integer in [1, 65536], got ${String(v)}`);
    }
    const source = await openModel(options.model ?? (await defaultModelInput(options.cacheDir)));
    let backend: KernelBackend | undefined;
    try {
      const cfg = source.config;
      const context = options.context ?? cfg.context;
      if (!Number.isSafeInteger(context) || context < 1 || context > cfg.context) {
        throw invalidArgument('context', `must be an integer in [1, ${cfg.context}] for this model, got ${String(context)}`);
      }
      const tokenizer = createTokenizer(source.tokenizer);
      const factory = options.backend ?? referenceBackendFactory;
      backend = await resolveBackend({
        candidates: [factory],
        force: factory.name,
        ...(options.threads !== undefined ? { options: { threads: options.threads } } : {}),
      });
      // A decode step carries one row per sequence, so a step must hold at least maxBatch tokens.
      const maxBatchTokens = Math.max(maxBatch, Math.min(maxBatchTokensOpt, context));
      const model = await BitNetModel.load(source, backend, {
        slots: maxBatch,
        context,
        maxBatchTokens,
        ...(options.lmHeadFormat !== undefined ? { lmHeadFormat: options.lmHeadFormat } : {}),
        ...(options.onProgress ? { onProgress: (loadedBytes: number, totalBytes: number) => options.onProgress!({ loadedBytes, totalBytes }) } : {}),
      });
      const prefixCacheTokens = options.prefixCacheTokens ?? intFromEnv('TRINE_PREFIX_CACHE_TOKENS') ?? maxBatch * context;
      const promptLookup = options.promptLookup ?? intFromEnv('TRINE_PROMPT_LOOKUP', MAX_PROMPT_LOOKUP) ?? 0;
      const engine = new Engine(model, tokenizer, { maxBatch, context, maxBatchTokens, maxQueue, name: source.name, prefixCacheTokens, promptLookup, ...(options.prefixBlockTokens !== undefined ? { prefixBlockTokens: options.prefixBlockTokens } : {}) });
      const b = backend;
      engine.onClose = () => {
        model.dispose();
        b.destroy();
      };
      return engine;
    } catch (e) {
      backend?.destroy();
      throw e;
    } finally {
      await source.close();
    }
  }

  readonly modelName: string;
  readonly model: StepModel;
  readonly tokenizer: Tokenizer;
  readonly config: EngineConfig;

  private readonly waiting: Sequence[] = [];
  private readonly active: Sequence[] = [];
  private readonly freeSlots: number[];
  private readonly prefixes: PrefixCache;
  private loop: Promise<void> | undefined;
  private argmaxOut: TensorDesc | undefined;
  private steps = 0;
  private maxDecodeBatch = 0;
  private drafted = 0;
  private accepted = 0;
  private closed = false;
  /** Each request's trace context (the caller's at `generate`), parent of its engine step spans. */
  private readonly traceContexts = new WeakMap<Sequence, Context>();
  /** Releases what the engine owns beyond the model (set by `Engine.load`). */
  onClose: (() => Promise<void> | void) | undefined;

  /**
   * With `config.prefixCacheTokens` > 0 the engine must be the only writer of the model's KV slots: its prefix cache
   * believes a free slot still holds what its last sequence left there.
   */
  constructor(model: StepModel, tokenizer: Tokenizer, config: EngineConfig) {
    for (const [field, v, min] of [
      ['maxBatch', config.maxBatch, 1],
      ['context', config.context, 1],
      ['maxBatchTokens', config.maxBatchTokens, 1],
      ['maxQueue', config.maxQueue, 0],
      ['prefixCacheTokens', config.prefixCacheTokens ?? 0, 0],
      ['prefixBlockTokens', config.prefixBlockTokens ?? ENGINE_DEFAULTS.prefixBlockTokens, 1],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < min) throw invalidArgument(field, `must be an integer ≥ ${min}, got ${String(v)}`);
    }
    checkLookup('promptLookup', config.promptLookup);
    this.model = model;
    this.tokenizer = tokenizer;
    this.config = config;
    this.modelName = config.name;
    this.freeSlots = Array.from({ length: config.maxBatch }, (_, i) => config.maxBatch - 1 - i);
    this.prefixes = new PrefixCache(config.maxBatch, {
      blockTokens: config.prefixBlockTokens ?? ENGINE_DEFAULTS.prefixBlockTokens,
      budgetTokens: config.prefixCacheTokens ?? 0,
      roundProbs: model.roundProbsF16 ?? 'single-token',
      chunkTokens: config.maxBatchTokens,
    });
  }

  /** Whether a row computed in a step like this one may be reused: it was rounded as an uncached prefill rounds it. */
  private canonical(oneTokenPerSlot: boolean): boolean {
    return !oneTokenPerSlot || this.prefixes.options.roundProbs !== 'single-token';
  }

  get stats(): EngineStats {
    return {
      active: this.active.length,
      waiting: this.waiting.length,
      steps: this.steps,
      maxDecodeBatch: this.maxDecodeBatch,
      prefixHitTokens: this.prefixes.hitTokens,
      prefixHeldTokens: this.prefixes.heldTokens,
      // K and V rows of every layer per position.
      prefixHeldBytes: this.prefixes.heldTokens * 2 * (this.model.kvDtype === 'f32' ? 4 : 2) * this.model.config.layers * this.model.config.kvHeads * this.model.config.headDim,
      draftedTokens: this.drafted,
      acceptedTokens: this.accepted,
    };
  }

  /** The backend running the model (name, code path, threads). */
  get backendInfo(): BackendInfo {
    return this.model.backend.info;
  }

  tokenize(text: string, options: { chat?: boolean } = {}): number[] {
    return tokenizeText(this.tokenizer, this.model.config.arch, text, options);
  }

  /**
   * The prefix-cache block keys the slots hold (`prefixBlockKeys` on a prompt's ids gives the keys to look up), for
   * a distributed worker's report to the gateway.
   */
  heldPrefixes(): { readonly blockTokens: number; readonly keys: string[] } {
    return { blockTokens: this.prefixes.options.blockTokens, keys: this.prefixes.heldKeys() };
  }

  generate(request: GenerateRequest, signal?: AbortSignal): AsyncIterable<GenerateEvent> {
    return this.stream(request, signal);
  }

  private promptTokens(request: GenerateRequest): Int32Array {
    if (typeof request !== 'object' || request === null) throw invalidArgument('request', 'must be an object');
    if (request.messages !== undefined) {
      if (!Array.isArray(request.messages) || request.messages.length === 0) {
        throw invalidArgument('messages', 'must be a non-empty list');
      }
      request.messages.forEach((m, i) => {
        if (typeof m?.role !== 'string' || typeof m.content !== 'string') {
          throw invalidArgument(`messages[${i}]`, 'needs a string role and content');
        }
      });
    } else if (typeof request.prompt !== 'string') throw invalidArgument('prompt', 'must be a string');
    const ids = promptTokenIds(this.tokenizer, this.model.config.arch, request);
    if (ids.length === 0) throw invalidArgument('prompt', 'is empty and the model adds no BOS token');
    if (ids.length > this.config.context) {
      throw invalidArgument('prompt', `is ${ids.length} tokens, but the context holds ${this.config.context}`);
    }
    return Int32Array.from(ids);
  }

  private async *stream(request: GenerateRequest, signal?: AbortSignal): AsyncGenerator<GenerateEvent, void, undefined> {
    if (this.closed) throw new TrineError('CANCELLED', 'the engine is closed');
    // max_tokens is not bounded by the context: a sequence that reaches the context ends with 'length'.
    validateSampling(request?.sampling, undefined, this.model.config.vocab);
    const prompt = this.promptTokens(request);
    const seq = new Sequence(prompt, request.sampling, this.tokenizer.streamDecoder(), createConstraint(request.sampling.responseFormat, this.tokenizer), this.tokenizer.eosIds);
    const lookup = (request as EngineRequest).promptLookup;
    checkLookup('promptLookup', lookup);
    seq.lookup = lookup ?? this.config.promptLookup ?? 0;
    this.traceContexts.set(seq, context.active());
    if (signal?.aborted) {
      seq.finish('cancelled');
    } else {
      if (this.active.length + this.waiting.length >= this.config.maxBatch + this.config.maxQueue) {
        throw new TrineError(
          'OVERLOADED',
          `the engine is at capacity (${this.config.maxBatch} running, ${this.config.maxQueue} waiting); retry later`,
          { field: 'queue' },
        );
      }
      this.waiting.push(seq);
      this.kick();
    }
    const onAbort = (): void => this.cancel(seq);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      yield* seq.events;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // The consumer stopped reading (break, return, throw): free the slot at the next step.
      if (!seq.finished) this.cancel(seq);
    }
  }

  private cancel(seq: Sequence): void {
    seq.cancelled = true;
    const at = this.waiting.indexOf(seq);
    if (at >= 0) {
      this.waiting.splice(at, 1);
      seq.finish('cancelled');
    }
  }

  private kick(): void {
    if (this.loop) return;
    this.loop = this.run()
      .catch((error: unknown) => {
        // Only a bug gets here (step errors are handled in run): fail every stream rather than leave it hanging.
        for (const s of [...this.active, ...this.waiting.splice(0)]) s.fail(error);
        this.retire();
      })
      .finally(() => {
        this.loop = undefined;
        if (!this.closed && (this.waiting.length > 0 || this.active.length > 0)) this.kick();
      });
  }

  /**
   * The step loop: runs while any sequence is active or waiting. Each turn runs at most one prefill step (the
   * requests admitted together, or one chunk of a long prompt) and then one decode step for every sequence that has
   * a token to feed, so a long prompt delays running streams by one chunk per token, not by its whole prefill.
   */
  private async run(): Promise<void> {
    // Requests that arrive together (one burst of messages or calls) start together: one prefill step, not one each.
    await yieldToEventLoop();
    while (this.active.length > 0 || this.waiting.length > 0) {
      this.retire();
      const prefilling = this.nextPrefill();
      try {
        if (prefilling.length === 1) await this.prefillChunk(prefilling[0]!);
        else if (prefilling.length > 1) await this.prefillTogether(prefilling);
        // First tokens leave before the decode step: a consumer in another thread (the serving engine thread
        // posts once per turn of the event loop) would otherwise get them a step later.
        if (prefilling.length > 0) await yieldToEventLoop();
        this.retire();
        if (this.active.some((s) => s.pending >= 0)) await this.decode();
      } catch (error) {
        // A failed step leaves the KV cache of every active sequence unknown: end them all with the error.
        for (const s of this.active) {
          s.fail(error);
          this.prefixes.invalidate(s.slot);
        }
        this.retire();
      }
      await yieldToEventLoop();
    }
    await this.reprefillTails();
  }

  /**
   * While nothing waits or runs: the rows a finished sequence decoded (rounded like decode steps, so not reusable
   * under 'single-token') are prefilled again in its free slot as multi-token chunks, one chunk per turn of the event
   * loop, until a request arrives. A chat's next turn then reuses the last reply too, exactly.
   */
  private async reprefillTails(): Promise<void> {
    while (!this.closed && this.waiting.length === 0 && this.active.length === 0) {
      const tail = this.prefixes.nextTail(this.freeSlots, this.config.maxBatchTokens);
      if (!tail) return;
      const n = tail.tokens.length;
      try {
        await this.model.forward({
          tokens: Int32Array.from(tail.tokens),
          positions: Int32Array.from(tail.tokens, (_, i) => tail.start + i),
          slots: new Int32Array(n).fill(tail.slot),
          logitsFor: Int32Array.of(n - 1),
        });
        this.steps++;
        this.prefixes.reprefilled(tail.slot, n);
      } catch {
        this.prefixes.invalidate(tail.slot); // its KV is unknown now; no request was in the step
      }
      await yieldToEventLoop();
    }
  }

  /** Resolves when the step loop has nothing left to do (tests wait for the idle re-prefill with it). */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /**
   * What to prefill this turn: the prompt still being prefilled in chunks, or else the oldest waiting requests
   * (FIFO, into free KV slots) whose whole prompts fit in one step of maxBatchTokens. A prompt longer than that is
   * admitted alone and prefilled in chunks. Prompts of one token and longer ones never share a step: a step whose
   * rows are each their slot's only token rounds attention like a decode step, so mixing them would change the
   * numbers a sequence gets (each must get exactly what it gets alone).
   */
  private nextPrefill(): Sequence[] {
    const ongoing = this.active.find((s) => s.cached < s.promptTokens.length);
    if (ongoing) return [ongoing];
    if (this.freeSlots.length === 0) return [];
    const first = this.admit();
    if (!first) return [];
    const group = [first];
    // What a step prefills of a sequence is what its slot does not hold yet (the prefix cache may hold the start).
    const left = (s: Sequence): number => s.promptTokens.length - s.cached;
    const single = left(first) === 1;
    let tokens = left(first);
    while (tokens < this.config.maxBatchTokens && this.freeSlots.length > 0) {
      const next = this.waiting[0];
      if (!next) break;
      const plan = this.prefixes.plan(next.promptTokens, this.freeSlots);
      const n = next.promptTokens.length - plan.reused;
      if ((n === 1) !== single || tokens + n > this.config.maxBatchTokens) break;
      group.push(this.admit()!);
      tokens += n;
    }
    return group;
  }

  /**
   * Moves the oldest waiting request into a free KV slot (FIFO): the slot holding the longest prefix of its prompt,
   * whose positions it then skips, else the least recently used one.
   */
  private admit(): Sequence | undefined {
    const seq = this.waiting.shift();
    if (!seq) return undefined;
    const plan = this.prefixes.plan(seq.promptTokens, this.freeSlots);
    this.freeSlots.splice(this.freeSlots.indexOf(plan.slot), 1);
    this.prefixes.take(plan);
    seq.slot = plan.slot;
    seq.cached = plan.reused;
    this.active.push(seq);
    seq.startPrefill();
    return seq;
  }

  /** Ends cancelled sequences and frees the slots of finished ones. */
  private retire(): void {
    for (let i = this.active.length - 1; i >= 0; i--) {
      const s = this.active[i]!;
      if (s.cancelled && !s.finished) s.finish('cancelled');
      if (s.finished) {
        this.active.splice(i, 1);
        this.freeSlots.push(s.slot);
        this.prefixes.release(s.slot);
        s.slot = -1;
      }
    }
  }

  private stepAttributes(sequences: number, tokens: number): Record<string, number | string> {
    const info = this.model.backend.info;
    return { 'trine.batch.size': sequences, 'trine.step.tokens': tokens, 'trine.backend': info.name, 'trine.backend.variant': info.variant, 'trine.backend.threads': info.threads };
  }

  /** The next maxBatchTokens of a prompt, as a step of its own; the last chunk's logits give the first token. */
  private async prefillChunk(seq: Sequence): Promise<void> {
    if (seq.cancelled) return this.prefillChunkUntraced(seq);
    const n = Math.min(seq.promptTokens.length, seq.cached + this.config.maxBatchTokens) - seq.cached;
    const parent = this.traceContexts.get(seq) ?? context.active();
    return traced('trine.engine.prefill', parent, [], this.stepAttributes(1, n), () => this.prefillChunkUntraced(seq));
  }

  private async prefillChunkUntraced(seq: Sequence): Promise<void> {
    if (seq.cancelled) {
      seq.finish('cancelled');
      return;
    }
    const prompt = seq.promptTokens;
    const start = seq.cached;
    const end = Math.min(prompt.length, start + this.config.maxBatchTokens);
    const n = end - start;
    // Every chunk asks for its last row's logits (one LM-head row, negligible next to the chunk), so no backend
    // ever sees an empty selection; only the final chunk's are sampled.
    const logits = await this.model.forward({
      tokens: prompt.subarray(start, end),
      positions: Int32Array.from({ length: n }, (_, i) => start + i),
      slots: new Int32Array(n).fill(seq.slot),
      logitsFor: Int32Array.of(n - 1),
    });
    this.steps++;
    this.prefixes.written(seq.slot, start, prompt.subarray(start, end), this.canonical(n === 1));
    seq.cached = end;
    if (end === prompt.length) await this.sampleRows(logits, [seq]);
  }

  /** Whole prompts of several newly admitted sequences in one step; each one's last row gives its first token. */
  private async prefillTogether(group: readonly Sequence[]): Promise<void> {
    const live = group.filter((s) => {
      if (s.cancelled) s.finish('cancelled');
      return !s.cancelled;
    });
    if (live.length === 0) return;
    const n = live.reduce((a, s) => a + s.promptTokens.length - s.cached, 0);
    const { parent, links } = this.stepTrace(live);
    return traced('trine.engine.prefill', parent, links, this.stepAttributes(live.length, n), async () => {
      const tokens = new Int32Array(n);
      const positions = new Int32Array(n);
      const slots = new Int32Array(n);
      const logitsFor = new Int32Array(live.length);
      let row = 0;
      live.forEach((s, i) => {
        const len = s.promptTokens.length - s.cached;
        tokens.set(s.promptTokens.subarray(s.cached), row);
        for (let p = 0; p < len; p++) positions[row + p] = s.cached + p;
        slots.fill(s.slot, row, row + len);
        row += len;
        logitsFor[i] = row - 1;
      });
      const logits = await this.model.forward({ tokens, positions, slots, logitsFor });
      this.steps++;
      // Sequences of one new token each share a step only with each other (nextPrefill), which rounds like decode.
      const canonical = this.canonical(n === live.length);
      for (const s of live) {
        this.prefixes.written(s.slot, s.cached, s.promptTokens.subarray(s.cached), canonical);
        s.cached = s.promptTokens.length;
      }
      await this.sampleRows(logits, live);
    });
  }

  /** A step span's parent (the oldest sequence's trace) and links to every sequence's trace. */
  private stepTrace(seqs: readonly Sequence[]): { parent: Context; links: Link[] } {
    const contexts = seqs.map((s) => this.traceContexts.get(s) ?? context.active());
    const links: Link[] = [];
    for (const c of contexts) {
      const sc = trace.getSpanContext(c);
      if (sc && trace.isSpanContextValid(sc)) links.push({ context: sc });
    }
    return { parent: contexts[0]!, links };
  }

  private async decode(): Promise<void> {
    const batch = this.active.filter((s) => s.pending >= 0 && !s.finished && !s.cancelled);
    if (batch.length === 0) return;
    // One span per step, shared by the batch: a child of the oldest sequence's trace, linked to every sequence's.
    const { parent, links } = this.stepTrace(batch);
    return traced('trine.engine.decode_step', parent, links, this.stepAttributes(batch.length, batch.length), () => this.decodeBatch(batch));
  }

  /**
   * One decode step: each sequence feeds its pending token, and a prompt-lookup sequence also the tokens it drafted
   * after it. Every row is computed as a one-token decode step computes it (`decode`), so row i's logits are what
   * plain decoding would get after the tokens before it. Each row's token is chosen as plain decoding chooses it —
   * argmax, or the sequence's sampler with its own PRNG draw and its penalties and mask advanced by the tokens
   * before it — and drafts are kept while they equal those choices; the first choice that differs is emitted too.
   * For a sampled row that is the speculative-sampling rule with a one-hot draft q: the draft is accepted with
   * probability p(d), and a rejected row's token is distributed as (p − q)+ normalised (docs/decisions/prefix-cache.md).
   * Output identical to plain decoding, greedy and seeded, up to K + 1 tokens a step.
   */
  private async decodeBatch(batch: Sequence[]): Promise<void> {
    let room = this.config.maxBatchTokens - batch.length;
    const fed = batch.map((s) => {
      const draft = this.draft(s, room);
      room -= draft.length;
      return [s.pending, ...draft];
    });
    const n = fed.reduce((a, f) => a + f.length, 0);
    const tokens = new Int32Array(n);
    const positions = new Int32Array(n);
    const slots = new Int32Array(n);
    const first: number[] = [];
    let row = 0;
    batch.forEach((s, i) => {
      first.push(row);
      for (const [j, t] of fed[i]!.entries()) {
        tokens[row] = t;
        positions[row] = s.cached + j;
        slots[row++] = s.slot;
      }
    });
    const logits = await this.model.forward({ tokens, positions, slots, logitsFor: Int32Array.from({ length: n }, (_, i) => i), decode: true });
    this.steps++;
    this.maxDecodeBatch = Math.max(this.maxDecodeBatch, batch.length);
    if (n === batch.length) {
      for (const s of batch) {
        this.prefixes.written(s.slot, s.cached, [s.pending], this.canonical(true));
        s.cached++;
        s.pending = -1;
      }
      return this.sampleRows(logits, batch);
    }
    const choices = await this.readChoices(logits, n, batch.every((s) => s.sampler.argmaxOnly));
    batch.forEach((s, i) => {
      const f = fed[i]!;
      this.drafted += f.length - 1;
      const kept = this.verify(s, f, first[i]!, choices);
      this.accepted += kept;
      // A draft rejected outright cost its rows for nothing: the next is one token, after waiting 1, 3, 7, … 31
      // steps, and only on a match of 2 tokens or more (see draft); accepted drafts let the length grow back
      // (doubling while all are accepted, from 2 tokens at the start), so text where drafts fail pays for few rows.
      // Tokens never depend on drafts, so this moves only speed.
      if (f.length > 1) {
        const n = f.length - 1;
        s.lookupMisses = kept > 0 ? 0 : Math.min(s.lookupMisses + 1, LOOKUP_BACKOFF_LOG2);
        s.lookupWait = 2 ** s.lookupMisses - 1;
        s.lookupLimit = kept === 0 ? 1 : kept === n ? Math.min(2 * n, MAX_PROMPT_LOOKUP) : kept + 1;
      }
    });
  }

  /** Emits the tokens chosen on one sequence's rows while its drafts equal them; returns the drafts accepted. */
  private verify(s: Sequence, fed: readonly number[], firstRow: number, choices: { ids?: Int32Array; rows?: Float32Array }): number {
    let kept = 0;
    for (let j = 0; j < fed.length; j++) {
      // Row j's input (the pending token, or draft j) was what plain decoding would have fed: it is valid.
      this.prefixes.written(s.slot, s.cached, [fed[j]!], this.canonical(true));
      s.cached++;
      s.pending = -1;
      const token = this.choose(s, firstRow + j, choices);
      if (!this.emit(s, token)) return kept;
      if (j + 1 < fed.length) {
        if (token.tokenId !== fed[j + 1]) return kept;
        kept++;
      }
    }
    return kept;
  }

  /**
   * Up to `s.lookup` tokens (and `room`, and the backoff's `s.lookupLimit`) that followed the most recent earlier
   * occurrence of the last n-gram of the prompt and output (the longest n ≤ LOOKUP_NGRAM that occurs).
   */
  private draft(s: Sequence, room: number): number[] {
    if (s.lookup === 0 || room <= 0) return [];
    if (s.lookupWait > 0) {
      s.lookupWait--;
      return [];
    }
    const k = Math.min(s.lookup, s.lookupLimit, room, this.config.context - s.cached - 1, s.sampling.maxTokens - s.generated - 1);
    if (k <= 0) return [];
    const P = s.promptTokens.length;
    // After a rejected draft a one-token match does not draft: in text that is not being copied (sampled, high
    // temperature) it is mostly chance, and each rejected row costs a third of a step or more.
    const minNgram = s.lookupMisses > 0 ? LOOKUP_NGRAM_AFTER_MISS : 1;
    return lookupDraft(P + s.output.length, (i) => (i < P ? s.promptTokens[i]! : s.output[i - P]!), k, minNgram);
  }

  /** Row i of `logits` belongs to seqs[i]. Greedy-only batches read one int per row via the backend's argmax. */
  private async sampleRows(logits: TensorDesc, seqs: readonly Sequence[]): Promise<void> {
    const choices = await this.readChoices(logits, seqs.length, seqs.every((s) => s.sampler.argmaxOnly));
    seqs.forEach((s, i) => this.emit(s, this.choose(s, i, choices)));
  }

  /** The first `n` rows of logits: as one argmax id each (greedy-only steps), else the rows themselves. */
  private async readChoices(logits: TensorDesc, n: number, argmaxOnly: boolean): Promise<{ ids?: Int32Array; rows?: Float32Array }> {
    const backend = this.model.backend;
    if (!argmaxOnly) return { rows: (await backend.read(logits, n)).data as Float32Array };
    this.argmaxOut ??= backend.alloc('i32', [this.config.maxBatchTokens]);
    backend.argmax(this.argmaxOut, logits, n);
    return { ids: (await backend.read(this.argmaxOut, n)).data as Int32Array };
  }

  private choose(s: Sequence, row: number, choices: { ids?: Int32Array; rows?: Float32Array }): SampledToken {
    if (choices.ids) return { tokenId: choices.ids[row]! };
    const vocab = this.model.config.vocab;
    const logits = choices.rows!.subarray(row * vocab, (row + 1) * vocab);
    // The host argmax follows the kernel's rule (first maximum), so mixing never changes a greedy stream.
    return s.sampler.argmaxOnly ? { tokenId: argmaxFirst(logits) } : s.sampler.sample(logits);
  }

  /** Hands a chosen token to its sequence; false when the sequence has ended (now or before). */
  private emit(s: Sequence, token: SampledToken): boolean {
    if (s.finished) return false;
    if (s.cancelled) {
      s.finish('cancelled');
      return false;
    }
    const reason = s.accept(token, this.tokenizer.isEndOfGeneration(token.tokenId), this.config.context);
    if (reason) s.finish(reason);
    return !s.finished;
  }

  /** Cancels everything in flight, waits for the step loop, then frees the model's backend. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.waiting]) this.cancel(s);
    for (const s of this.active) s.cancelled = true;
    await this.loop;
    if (this.argmaxOut) this.model.backend.dispose(this.argmaxOut);
    await this.onClose?.();
  }
}
