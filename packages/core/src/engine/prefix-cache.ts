/**
 * The prefix cache: which token prefixes the engine's KV slots still hold, so a new sequence whose prompt starts the
 * same way takes over that slot and prefills only the rest (llama-server's `cache_prompt`, vLLM's automatic prefix
 * caching, at the granularity of whole slots).
 *
 * The KV cache is `slots × context` per layer and every op reads only its own slot, so a prefix is reused by giving
 * its slot to the new sequence — no copy op, no memory beyond what the engine allocated already. The price: a slot's
 * prefix serves one running sequence at a time (two concurrent requests with the same system prompt prefill it
 * twice); sharing one prefix between running sequences would need a KV copy op (docs/decisions/prefix-cache.md).
 *
 * Blocks of `blockTokens` positions are keyed by a hash of the whole prefix up to their end (so one key names one
 * prefix) in an index from key to the slots that hold it. A slot's blocks are pinned while a sequence runs in it
 * (its one reference) and become reusable when it leaves; when the free slots together hold more than
 * `budgetTokens`, the least recently used one is dropped, and a sequence that reuses nothing takes the least
 * recently used free slot, so recent prefixes survive longest.
 *
 * Exactness — tokens on a reused prefix equal those without it — rests on two facts: every op is per row and reads
 * only its slot, so a row's K/V depend on its tokens and on how its attention was rounded, not on chunking; and the
 * engine records only rows computed the way an uncached prefill computes them (`canonical`): under the
 * 'single-token' rounding policy (bitnet.cpp's, I2_S) rows of multi-token chunks only — decoded tokens and one-token
 * chunks round probabilities to f16, which an uncached prefill of the same tokens does not. Such rows are kept as a
 * slot's `tail`, which the idle engine prefills again canonically (`nextTail` / `reprefilled`). `plan` keeps the one
 * row an uncached prefill may round (a one-token last chunk) rounded the same way in the cached run.
 */
import type { RoundProbsPolicy } from '../model/bitnet.js';

export interface PrefixCacheOptions {
  /** Positions per block (reuse happens in whole blocks). */
  readonly blockTokens: number;
  /** Most positions the free slots may hold for reuse; 0 disables the cache. */
  readonly budgetTokens: number;
  /** The model's f16 rounding policy for attention probabilities (decides which rows are canonical). */
  readonly roundProbs: RoundProbsPolicy;
  /** Tokens per prefill chunk (the engine's maxBatchTokens): where an uncached prefill's chunks begin. */
  readonly chunkTokens: number;
}

export interface PrefixPlan {
  readonly slot: number;
  /** Leading prompt positions already in the slot's KV (a multiple of blockTokens, less than the prompt). */
  readonly reused: number;
}

interface SlotEntry {
  /** Tokens at positions [0, tokens.length) of the slot, each row canonical. */
  tokens: number[];
  /** keys[b]: hash of tokens [0, (b+1)·blockTokens), one per full block. */
  keys: string[];
  /** Tokens written after `tokens` whose rows are not canonical (decoded under 'single-token'): re-prefill material. */
  tail: number[];
  lastUsed: number;
  inUse: boolean;
}

/** Chains a block's tokens onto the key of the prefix before it (two 32-bit FNV-1a lanes with different seeds). */
function chainKey(prev: string, tokens: ArrayLike<number>, start: number, end: number): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ prev.length;
  for (let i = 0; i < prev.length; i++) {
    a = Math.imul(a ^ prev.charCodeAt(i), 0x01000193);
    b = Math.imul(b ^ prev.charCodeAt(i), 0x5bd1e995);
  }
  for (let i = start; i < end; i++) {
    const t = tokens[i]!;
    a = Math.imul(a ^ t, 0x01000193);
    b = Math.imul(b ^ t, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return (a >>> 0).toString(36) + '.' + (b >>> 0).toString(36);
}

/**
 * The keys of a token sequence's whole blocks ending at or before `end` (default: its length): key b names the
 * prefix [0, (b+1)·blockTokens). The engine indexes its slots by these; a distributed gateway computes them on a
 * request's prompt ids to find the worker whose slots hold its start (the same function, so the same keys).
 */
export function prefixBlockKeys(tokens: ArrayLike<number>, blockTokens: number, end = tokens.length): string[] {
  const keys: string[] = [];
  for (let b = 0; (b + 1) * blockTokens <= end; b++) keys.push(chainKey(b === 0 ? '' : keys[b - 1]!, tokens, b * blockTokens, (b + 1) * blockTokens));
  return keys;
}

/** Length of the last chunk when tokens [from, len) are prefilled in chunks of `chunk` starting at `from`. */
function lastChunk(len: number, from: number, chunk: number): number {
  return len - from - chunk * Math.floor((len - from - 1) / chunk);
}

export class PrefixCache {
  readonly options: PrefixCacheOptions;
  private readonly slots: SlotEntry[];
  private readonly index = new Map<string, Set<number>>();
  private clock = 0;
  /** Prompt positions served from the cache so far. */
  hitTokens = 0;

  constructor(slots: number, options: PrefixCacheOptions) {
    this.options = options;
    this.slots = Array.from({ length: slots }, () => ({ tokens: [], keys: [], tail: [], lastUsed: 0, inUse: false }));
  }

  get enabled(): boolean {
    return this.options.budgetTokens > 0;
  }

  /** Positions the slots hold for reuse (free and in use). */
  get heldTokens(): number {
    return this.slots.reduce((a, s) => a + s.tokens.length, 0);
  }

  /**
   * The free slot a prompt should take and how many of its leading positions it may reuse there: the slot holding
   * the longest reusable prefix, else the least recently used free slot. Changes nothing (see `take`).
   */
  plan(prompt: Int32Array, free: readonly number[]): PrefixPlan {
    const lru = (): number => free.reduce((best, s) => (this.slots[s]!.lastUsed < this.slots[best]!.lastUsed ? s : best), free[0]!);
    if (!this.enabled || free.length === 0) return { slot: free.length > 0 ? lru() : -1, reused: 0 };
    const B = this.options.blockTokens;
    let slot = -1;
    let blocks = 0;
    let key = '';
    for (let b = 0; (b + 1) * B < prompt.length; b++) {
      key = chainKey(key, prompt, b * B, (b + 1) * B);
      const holders = this.index.get(key);
      const s = holders && free.find((f) => holders.has(f) && this.holds(f, prompt, (b + 1) * B));
      if (s === undefined) break;
      slot = s;
      blocks = b + 1;
    }
    let reused = blocks * B;
    // An uncached prefill rounds at most one row like a decode step: the last, when its chunk has one token. Step
    // back a block at a time until the cached run's last chunk is one token exactly when the uncached run's is.
    if (this.options.roundProbs === 'single-token') {
      const C = this.options.chunkTokens;
      const single = lastChunk(prompt.length, 0, C) === 1;
      while (reused > 0 && (lastChunk(prompt.length, reused, C) === 1) !== single) reused -= B;
    }
    return reused > 0 ? { slot, reused } : { slot: lru(), reused: 0 };
  }

  /** A sequence starts in `plan.slot`: its blocks are pinned, and positions from `plan.reused` on will be rewritten. */
  take(plan: PrefixPlan): void {
    const e = this.slots[plan.slot]!;
    e.inUse = true;
    this.truncate(plan.slot, plan.reused);
    this.hitTokens += plan.reused;
  }

  /**
   * Rows [start, start + tokens.length) of `slot` were just written. Canonical rows extend the slot's reusable
   * prefix (when they continue it); any other write ends the prefix at `start`.
   */
  written(slot: number, start: number, tokens: ArrayLike<number>, canonical: boolean): void {
    if (!this.enabled) return;
    const e = this.slots[slot]!;
    if (start < e.tokens.length) this.truncate(slot, start);
    else if (start < e.tokens.length + e.tail.length) e.tail.length = start - e.tokens.length;
    if (start !== e.tokens.length + e.tail.length) return;
    // A row after a non-canonical one is not canonical either: its attention read that row's K/V.
    if (!canonical || e.tail.length > 0) {
      for (let i = 0; i < tokens.length; i++) e.tail.push(tokens[i]!);
      return;
    }
    this.extend(slot, tokens);
  }

  /**
   * A free slot whose tail could be made reusable by prefilling it again as a multi-token chunk (what an uncached
   * prefill computes): the most recently used one, with the positions and tokens of at most `chunk` of its tail.
   * The engine runs that while idle, so the next turn of a chat finds the last reply reusable too.
   */
  nextTail(free: readonly number[], chunk: number): { slot: number; start: number; tokens: number[] } | undefined {
    if (!this.enabled || chunk < 2) return undefined;
    let best: number | undefined;
    for (const f of free) {
      const e = this.slots[f]!;
      if (e.tail.length >= 2 && (best === undefined || e.lastUsed > this.slots[best]!.lastUsed)) best = f;
    }
    if (best === undefined) return undefined;
    const e = this.slots[best]!;
    // Never leave a one-token rest: a chunk of one row would round like a decode step.
    const n = e.tail.length - chunk === 1 ? chunk - 1 : Math.min(chunk, e.tail.length);
    const held = this.slots.reduce((a, s) => a + (s.inUse ? 0 : s.tokens.length), 0);
    if (held + n > this.options.budgetTokens) return undefined;
    return { slot: best, start: e.tokens.length, tokens: e.tail.slice(0, n) };
  }

  /** The first `n` tail tokens of `slot` were prefilled again canonically: they join its reusable prefix. */
  reprefilled(slot: number, n: number): void {
    const e = this.slots[slot]!;
    this.extend(slot, e.tail.splice(0, n));
    e.lastUsed = ++this.clock;
  }

  private extend(slot: number, tokens: ArrayLike<number>): void {
    const e = this.slots[slot]!;
    for (let i = 0; i < tokens.length; i++) e.tokens.push(tokens[i]!);
    const B = this.options.blockTokens;
    while ((e.keys.length + 1) * B <= e.tokens.length) {
      const b = e.keys.length;
      const key = chainKey(b === 0 ? '' : e.keys[b - 1]!, e.tokens, b * B, (b + 1) * B);
      e.keys.push(key);
      let holders = this.index.get(key);
      if (!holders) this.index.set(key, (holders = new Set()));
      holders.add(slot);
    }
  }

  /** The sequence in `slot` left: its prefix becomes reusable, and the least recently used ones go over budget. */
  release(slot: number): void {
    const e = this.slots[slot]!;
    e.inUse = false;
    e.lastUsed = ++this.clock;
    let held = this.slots.reduce((a, s) => a + (s.inUse ? 0 : s.tokens.length), 0);
    while (held > this.options.budgetTokens) {
      let victim = -1;
      this.slots.forEach((s, i) => {
        if (!s.inUse && s.tokens.length > 0 && (victim < 0 || s.lastUsed < this.slots[victim]!.lastUsed)) victim = i;
      });
      if (victim < 0) break;
      held -= this.slots[victim]!.tokens.length;
      this.truncate(victim, 0);
    }
  }

  /** The slot's KV is unknown (a failed step): it holds nothing reusable. */
  invalidate(slot: number): void {
    this.truncate(slot, 0);
  }

  /**
   * The block keys the slots hold, free or in use (a sequence in use ends soon, and its slot keeps its prefix), each
   * slot's in order: a key's holder also holds every key before it. At most `slots · context / blockTokens` keys.
   */
  heldKeys(): string[] {
    const out = new Set<string>();
    for (const s of this.slots) for (const k of s.keys) out.add(k);
    return [...out];
  }

  private holds(slot: number, prompt: Int32Array, n: number): boolean {
    const t = this.slots[slot]!.tokens;
    if (t.length < n) return false;
    for (let i = 0; i < n; i++) if (t[i] !== prompt[i]) return false; // a hash collision never reuses wrong KV
    return true;
  }

  private truncate(slot: number, n: number): void {
    const e = this.slots[slot]!;
    e.tail.length = 0;
    if (e.tokens.length <= n) return;
    e.tokens.length = n;
    const keep = Math.floor(n / this.options.blockTokens);
    for (const key of e.keys.splice(keep)) {
      const holders = this.index.get(key);
      holders?.delete(slot);
      if (holders?.size === 0) this.index.delete(key);
    }
  }
}
