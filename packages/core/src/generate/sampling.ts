/**
 * Token sampling: logit bias → repetition, presence and frequency penalties → end-of-generation ban (ignore_eos) →
 * response-format mask → temperature → min-p → typical-p → top-k → top-p → a draw from the seeded PRNG.
 *
 * Order and semantics:
 * - Repetition penalty as llama.cpp (CTRL): for every token already seen (prompt or output), a positive logit is
 *   divided by the penalty and a negative one multiplied by it.
 * - Temperature 0 is greedy: the first maximum wins (the same rule as the backends' `argmax` kernel).
 * - Temperature scales logits before top-k / top-p (as Hugging Face and OpenAI), so top-p's mass is measured on the
 *   distribution actually sampled from. Top-p is measured within the top-k survivors when both are set.
 * - Candidates are ordered by probability, ties by lower token id, and the draw walks that order: the result
 *   depends only on the logits and the seed, never on sort stability or the platform.
 * - Reported log-probabilities are the log-softmax of the raw logits (before penalty and temperature), as OpenAI
 *   reports them.
 * - min-p and typical-p shape the tempered distribution before top-k / top-p; greedy (temperature 0) takes the
 *   maximum of the penalized, masked logits, as Hugging Face applies its warpers only when sampling.
 */
import { invalidArgument } from '../errors/index.js';
import type { SamplingParams, TokenLogprob } from './types.js';
import { randomSeed, SplitMix64 } from './rng.js';
import { applyMask } from '../constrain/matcher.js';

/** Limits on request fields (the gateway and CLI reject beyond them with the field named). */
export const SAMPLING_LIMITS = {
  maxTopLogprobs: 20,
  maxStopStrings: 16,
  maxStopLength: 256,
  maxTemperature: 100,
  maxLogitBias: 1024,
} as const;

/**
 * Checks every field of `s` and throws INVALID_ARGUMENT naming the first bad one (snake_case, as in the gRPC API
 * and CLI flags). `maxTokensLimit` bounds max_tokens (the engine passes its context); `vocabSize` bounds logit_bias ids.
 */
export function validateSampling(s: SamplingParams, maxTokensLimit = Number.MAX_SAFE_INTEGER, vocabSize = Number.MAX_SAFE_INTEGER): void {
  if (typeof s !== 'object' || s === null) throw invalidArgument('sampling', 'must be an object');
  if (!Number.isInteger(s.maxTokens) || s.maxTokens < 1 || s.maxTokens > maxTokensLimit) {
    throw invalidArgument('max_tokens', `must be an integer in [1, ${maxTokensLimit}], got ${String(s.maxTokens)}`);
  }
  if (typeof s.temperature !== 'number' || !(s.temperature >= 0 && s.temperature <= SAMPLING_LIMITS.maxTemperature)) {
    throw invalidArgument('temperature', `must be a number in [0, ${SAMPLING_LIMITS.maxTemperature}], got ${String(s.temperature)}`);
  }
  if (typeof s.topP !== 'number' || !(s.topP > 0 && s.topP <= 1)) {
    throw invalidArgument('top_p', `must be a number in (0, 1], got ${String(s.topP)}`);
  }
  if (!Number.isInteger(s.topK) || s.topK < 0) {
    throw invalidArgument('top_k', `must be an integer ≥ 0, got ${String(s.topK)}`);
  }
  if (typeof s.repetitionPenalty !== 'number' || !(s.repetitionPenalty > 0 && Number.isFinite(s.repetitionPenalty))) {
    throw invalidArgument('repetition_penalty', `must be a finite number > 0, got ${String(s.repetitionPenalty)}`);
  }
  if (s.seed !== undefined && !Number.isSafeInteger(s.seed)) {
    throw invalidArgument('seed', `must be a safe integer, got ${String(s.seed)}`);
  }
  if (!Number.isInteger(s.topLogprobs) || s.topLogprobs < 0 || s.topLogprobs > SAMPLING_LIMITS.maxTopLogprobs) {
    throw invalidArgument('top_logprobs', `must be an integer in [0, ${SAMPLING_LIMITS.maxTopLogprobs}], got ${String(s.topLogprobs)}`);
  }
  if (!Array.isArray(s.stop) || s.stop.length > SAMPLING_LIMITS.maxStopStrings) {
    throw invalidArgument('stop', `must be a list of at most ${SAMPLING_LIMITS.maxStopStrings} strings`);
  }
  s.stop.forEach((str, i) => {
    if (typeof str !== 'string' || str.length === 0 || str.length > SAMPLING_LIMITS.maxStopLength) {
      throw invalidArgument(`stop[${i}]`, `must be a non-empty string of at most ${SAMPLING_LIMITS.maxStopLength} characters`);
    }
  });
  const inRange = (field: string, v: number | undefined, lo: number, hi: number, loOpen = false): void => {
    if (v !== undefined && (typeof v !== 'number' || !(loOpen ? v > lo : v >= lo) || !(v <= hi))) {
      throw invalidArgument(field, `must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${String(v)}`);
    }
  };
  inRange('min_p', s.minP, 0, 1);
  inRange('typical_p', s.typicalP, 0, 1, true);
  inRange('presence_penalty', s.presencePenalty, -2, 2);
  inRange('frequency_penalty', s.frequencyPenalty, -2, 2);
  if (s.ignoreEos !== undefined && typeof s.ignoreEos !== 'boolean') throw invalidArgument('ignore_eos', 'must be true or false');
  if (s.logitBias !== undefined) {
    if (typeof s.logitBias !== 'object' || s.logitBias === null || Array.isArray(s.logitBias)) throw invalidArgument('logit_bias', 'must be an object of token id → bias');
    const entries = Object.entries(s.logitBias);
    if (entries.length > SAMPLING_LIMITS.maxLogitBias) throw invalidArgument('logit_bias', `has more than ${SAMPLING_LIMITS.maxLogitBias} entries`);
    for (const [id, bias] of entries) {
      const n = Number(id);
      if (!/^\d+$/.test(id) || !Number.isSafeInteger(n) || n >= vocabSize) throw invalidArgument(`logit_bias[${id}]`, `is not a token id of this vocabulary (0 ≤ id < ${vocabSize})`);
      inRange(`logit_bias[${id}]`, bias, -100, 100);
    }
  }
}

/** The largest entry (-Infinity for none). */
function maxOf(x: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
  return max;
}

/** Index of the first maximum (NaN never wins). -1 only for an empty array. */
export function argmaxFirst(x: ArrayLike<number>): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v > bestValue || (best < 0 && v === -Infinity)) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

/** llama.cpp's repetition penalty, in place: positive logits ÷ penalty, negative × penalty, for each seen token. */
export function applyRepetitionPenalty(logits: Float32Array | Float64Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of seen) {
    const v = logits[id];
    if (v === undefined) continue;
    logits[id] = v > 0 ? v / penalty : v * penalty;
  }
}

/** log Σ exp(x) computed stably in f64; NaN entries count as -∞. */
export function logSumExp(x: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v > -Infinity) sum += Math.exp(v - max);
  }
  return max + Math.log(sum);
}

/**
 * The k largest entries' indices, largest first; equal values keep the lower index first. NaN counts as -∞.
 * O(V log k) with a bounded heap, so top-k over a 128k vocabulary costs one pass.
 */
export function topKIndices(x: ArrayLike<number>, k: number): Int32Array {
  const n = x.length;
  k = Math.min(k, n);
  if (k <= 0) return new Int32Array(0);
  const val = (i: number): number => {
    const v = x[i]!;
    return v === v ? v : -Infinity;
  };
  // "a ranks below b": smaller value, or equal value and higher index.
  const below = (a: number, b: number): boolean => {
    const va = val(a);
    const vb = val(b);
    return va < vb || (va === vb && a > b);
  };
  // Min-heap (by rank) of the best k seen so far; the root is the weakest survivor.
  const heap = new Int32Array(k);
  let size = 0;
  const siftUp = (pos: number): void => {
    const item = heap[pos]!;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!below(item, heap[parent]!)) break;
      heap[pos] = heap[parent]!;
      pos = parent;
    }
    heap[pos] = item;
  };
  const siftDown = (pos: number): void => {
    const item = heap[pos]!;
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= size) break;
      if (child + 1 < size && below(heap[child + 1]!, heap[child]!)) child++;
      if (!below(heap[child]!, item)) break;
      heap[pos] = heap[child]!;
      pos = child;
    }
    heap[pos] = item;
  };
  for (let i = 0; i < n; i++) {
    if (size < k) {
      heap[size] = i;
      siftUp(size++);
    } else if (below(heap[0]!, i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  const out = Array.from(heap);
  out.sort((a, b) => (below(a, b) ? 1 : below(b, a) ? -1 : 0));
  return Int32Array.from(out);
}

/** The k most likely tokens of the raw logits with their log-softmax values (OpenAI's `top_logprobs`). */
export function topLogprobs(logits: ArrayLike<number>, k: number, lse = logSumExp(logits)): TokenLogprob[] {
  return Array.from(topKIndices(logits, k), (tokenId) => ({ tokenId, logprob: logits[tokenId]! - lse }));
}

/**
 * The candidates a tempered distribution keeps under top-k / top-p, most likely first, with their unnormalized
 * weights exp(z - max). `z` holds the penalized logits already divided by the temperature.
 */
export function nucleus(z: Float64Array, topK: number, topP: number): { ids: Int32Array; weights: Float64Array } {
  const V = z.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (z[i]! > max) max = z[i]!;
  const weightOf = (i: number): number => {
    const v = z[i]!;
    return v > -Infinity && max > -Infinity ? Math.exp(v - max) : 0;
  };
  // Top-k survivors; the mass top-p measures against is theirs (the renormalized top-k distribution).
  let pool: Int32Array | undefined;
  let poolMass = 0;
  if (topK > 0 && topK < V) {
    pool = topKIndices(z, topK);
    for (const i of pool) poolMass += weightOf(i);
  } else {
    for (let i = 0; i < V; i++) poolMass += weightOf(i);
  }
  if (topP >= 1) {
    if (!pool) return { ids: new Int32Array(0), weights: new Float64Array(0) }; // empty = the whole vocabulary
    return { ids: pool, weights: Float64Array.from(pool, weightOf) };
  }
  // The nucleus usually sits in a few dozen tokens: sort a growing prefix instead of the whole vocabulary.
  const target = topP * poolMass;
  for (let k = Math.min(64, pool ? pool.length : V); ; k = Math.min(k * 4, pool ? pool.length : V)) {
    const sorted = pool ? pool.subarray(0, k) : topKIndices(z, k);
    let mass = 0;
    for (let j = 0; j < sorted.length; j++) {
      mass += weightOf(sorted[j]!);
      if (mass >= target) {
        const ids = sorted.slice(0, j + 1);
        return { ids, weights: Float64Array.from(ids, weightOf) };
      }
    }
    if (k >= (pool ? pool.length : V)) return { ids: sorted.slice(), weights: Float64Array.from(sorted, weightOf) };
  }
}

/** Walks `weights` until the cumulative mass passes u · total; the last positive weight absorbs rounding. */
export function drawIndex(weights: ArrayLike<number>, u: number): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i]!;
  const threshold = u * total;
  let acc = 0;
  let lastPositive = -1;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (w <= 0) continue;
    acc += w;
    lastPositive = i;
    if (acc > threshold) return i;
  }
  return Math.max(lastPositive, 0);
}

/** min-p: drops (to -∞) tokens whose probability is below minP × the largest, i.e. z < max + ln(minP). */
export function applyMinP(z: Float64Array, minP: number): void {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) if (z[i]! > max) max = z[i]!;
  const cut = max + Math.log(minP);
  for (let i = 0; i < z.length; i++) if (z[i]! < cut) z[i] = -Infinity;
}

/**
 * Locally typical sampling (Meister et al. 2022, as Hugging Face's TypicalLogitsWarper): tokens ordered by how far
 * their surprisal is from the distribution's entropy, nearest first (ties by lower id), kept until their mass reaches
 * `mass`; the rest go to -∞. At least one token is kept.
 */
export function applyTypicalP(z: Float64Array, mass: number): void {
  const lse = logSumExp(z);
  if (lse === -Infinity) return;
  let entropy = 0;
  const live: number[] = [];
  for (let i = 0; i < z.length; i++) {
    if (z[i]! === -Infinity) continue;
    const lp = z[i]! - lse;
    entropy -= Math.exp(lp) * lp;
    live.push(i);
  }
  const distance = (i: number): number => Math.abs(-(z[i]! - lse) - entropy);
  live.sort((a, b) => distance(a) - distance(b) || a - b);
  let acc = 0;
  let keep = live.length;
  for (let k = 0; k < live.length; k++) {
    acc += Math.exp(z[live[k]!]! - lse);
    if (acc >= mass) {
      keep = k + 1;
      break;
    }
  }
  for (let k = keep; k < live.length; k++) z[live[k]!] = -Infinity;
}

export interface SampledToken {
  readonly tokenId: number;
  /** Log-softmax of the raw logits at the chosen token (present when logits were read). */
  readonly logprob?: number;
  readonly topLogprobs?: readonly TokenLogprob[];
}

/**
 * One sequence's sampler: its own PRNG (so batching never changes a stream's tokens) and the set of tokens seen
 * for the repetition penalty.
 */
export class Sampler {
  readonly params: SamplingParams;
  readonly seed: number;
  private readonly rng: SplitMix64;
  private readonly seen = new Set<number>();
  private scratch: Float64Array | undefined;
  /** Allowed tokens now (a bitset) under the request's response format; absent: every token. */
  private readonly allowed: (() => Uint32Array) | undefined;
  /** End-of-generation ids, banned under ignore_eos. */
  private readonly eogIds: readonly number[];
  /** Occurrences of each generated token (presence and frequency penalties count the output only, as OpenAI). */
  private readonly counts = new Map<number, number>();

  constructor(params: SamplingParams, promptTokens: Iterable<number> = [], allowed?: () => Uint32Array, eogIds: readonly number[] = []) {
    this.params = params;
    this.allowed = allowed;
    this.eogIds = eogIds;
    this.seed = params.seed ?? randomSeed();
    this.rng = new SplitMix64(this.seed);
    if (params.repetitionPenalty !== 1) for (const t of promptTokens) this.seen.add(t);
  }

  /** Greedy without penalty or logprobs needs only the argmax: the backend computes it and one int comes back. */
  get argmaxOnly(): boolean {
    const p = this.params;
    return p.temperature === 0 && p.repetitionPenalty === 1 && p.topLogprobs === 0 && !this.allowed && !this.changesLogits;
  }

  /** Whether a control other than temperature, top-k/top-p and the repetition penalty moves the logits. */
  private get changesLogits(): boolean {
    const p = this.params;
    return (p.presencePenalty ?? 0) !== 0 || (p.frequencyPenalty ?? 0) !== 0 || (p.ignoreEos === true && this.eogIds.length > 0) ||
      (p.logitBias !== undefined && Object.keys(p.logitBias).length > 0);
  }

  /** Records a generated token (for the penalties). */
  accept(tokenId: number): void {
    if (this.params.repetitionPenalty !== 1) this.seen.add(tokenId);
    this.counts.set(tokenId, (this.counts.get(tokenId) ?? 0) + 1);
  }

  /** Picks the next token from one row of raw logits. Does not call `accept`. */
  sample(logits: Float32Array): SampledToken {
    const p = this.params;
    const V = logits.length;
    if (!this.scratch || this.scratch.length !== V) this.scratch = new Float64Array(V);
    const z = this.scratch;
    for (let i = 0; i < V; i++) {
      const v = logits[i]!;
      z[i] = v === v ? v : -Infinity;
    }
    if (p.logitBias) for (const [id, bias] of Object.entries(p.logitBias)) if (Number(id) < V) z[Number(id)] = z[Number(id)]! + bias;
    applyRepetitionPenalty(z, this.seen, p.repetitionPenalty);
    const presence = p.presencePenalty ?? 0;
    const frequency = p.frequencyPenalty ?? 0;
    if (presence !== 0 || frequency !== 0) for (const [id, n] of this.counts) z[id] = z[id]! - n * frequency - presence;
    if (p.ignoreEos) for (const id of this.eogIds) z[id] = -Infinity;
    // Masked before temperature and top-k/top-p, so those act on the tokens the format allows.
    if (this.allowed) applyMask(z, this.allowed());

    let tokenId: number;
    if (p.temperature === 0) {
      tokenId = Math.max(argmaxFirst(z), 0);
    } else {
      // Scaled relative to the maximum: a tiny temperature (down to subnormals, where 1/T is Infinity) then gives
      // 0 for the best tokens and -Infinity for the rest (greedy), never Infinity - Infinity = NaN weights that would
      // let the draw fall on a token outside the mask.
      const zMax = maxOf(z);
      const invT = 1 / p.temperature;
      if (zMax > -Infinity)
        for (let i = 0; i < V; i++) {
          const d = z[i]! - zMax;
          z[i] = d === 0 ? 0 : d * invT;
        }
      if ((p.minP ?? 0) > 0) applyMinP(z, p.minP!);
      if ((p.typicalP ?? 1) < 1) applyTypicalP(z, p.typicalP!);
      const { ids, weights } = nucleus(z, p.topK, p.topP);
      const u = this.rng.nextFloat();
      if (ids.length === 0) {
        let max = -Infinity;
        for (let i = 0; i < V; i++) if (z[i]! > max) max = z[i]!;
        for (let i = 0; i < V; i++) z[i] = max > -Infinity ? Math.exp(z[i]! - max) : 0;
        tokenId = drawIndex(z, u);
      } else {
        tokenId = ids[drawIndex(weights, u)]!;
      }
    }
    const lse = logSumExp(logits);
    const logprob = logits[tokenId]! - lse;
    if (p.topLogprobs > 0) return { tokenId, logprob, topLogprobs: topLogprobs(logits, p.topLogprobs, lse) };
    return { tokenId, logprob };
  }
}
