/**
 * Response cache for deterministic requests (greedy, or an explicit seed): the key covers the model, the prompt
 * or messages and every sampling parameter, so two requests share an entry only if they must produce the same output.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { EngineRequest, FinishReason, Timings, TokenLogprob, Usage } from '@trine/core';

export interface CachedToken {
  readonly i: number;
  readonly id: number;
  readonly text: string;
  readonly logprob?: number;
  readonly top?: readonly TokenLogprob[];
}

export interface CachedResponse {
  readonly tokens: readonly CachedToken[];
  /** Text held back to the end (the done event's text). */
  readonly tail: string;
  readonly finish: FinishReason;
  readonly usage: Usage;
  readonly timings: Timings;
}

export interface ResponseCache {
  get(key: string): Promise<CachedResponse | undefined>;
  set(key: string, value: CachedResponse): Promise<void>;
}

/**
 * Every field that can change the output is in the key, each in a canonical form (absent = its neutral value, logit
 * bias sorted by id), so a request that means the same as another shares its entry and one that does not never does.
 */
export function cacheKey(model: string, request: EngineRequest, clientSeed: boolean): string {
  const s = request.sampling;
  const bias = Object.entries(s.logitBias ?? {}).map(([id, b]) => [Number(id), b]).sort((a, b) => a[0]! - b[0]!);
  const canonical = JSON.stringify([
    'v2',
    model,
    request.prompt ?? null,
    request.messages?.map((m) => [m.role, m.content]) ?? null,
    s.maxTokens,
    s.temperature,
    s.topP,
    s.topK,
    s.repetitionPenalty,
    // Greedy output does not depend on the seed; a drawn seed must not split or poison entries.
    s.temperature === 0 && !clientSeed ? null : s.seed,
    s.stop,
    s.topLogprobs,
    s.minP ?? 0,
    s.typicalP ?? 1,
    s.presencePenalty ?? 0,
    s.frequencyPenalty ?? 0,
    bias,
    s.ignoreEos ?? false,
    // The format as the engine gets it (a schema's own key order matters: it orders the output's properties).
    s.responseFormat ?? { type: 'text' },
    // Greedy output is the same with it, but sampled output may not be: no entry is shared across draft lengths.
    request.promptLookup ?? null,
  ]);
  return `trine:cache:${createHash('sha256').update(canonical).digest('hex')}`;
}

export class RedisResponseCache implements ResponseCache {
  constructor(private readonly redis: Redis, private readonly ttlMs: number) {}

  async get(key: string): Promise<CachedResponse | undefined> {
    const v = await this.redis.get(key);
    return v === null ? undefined : (JSON.parse(v) as CachedResponse);
  }

  async set(key: string, value: CachedResponse): Promise<void> {
    await this.redis.set(key, JSON.stringify(value), 'PX', this.ttlMs);
  }
}

/** In-memory LRU with TTL for the standalone server. */
export class MemoryResponseCache implements ResponseCache {
  private readonly entries = new Map<string, { value: CachedResponse; expires: number }>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 1024) {}

  async get(key: string): Promise<CachedResponse | undefined> {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (e.expires < Date.now()) return undefined;
    this.entries.set(key, e); // most recently used last
    return e.value;
  }

  async set(key: string, value: CachedResponse): Promise<void> {
    this.entries.delete(key);
    this.entries.set(key, { value, expires: Date.now() + this.ttlMs });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}
