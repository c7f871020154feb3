import { describe, expect, it } from 'vitest';
import { TrineError } from '../errors/index.js';
import { DEFAULT_SAMPLING, type SamplingParams } from './types.js';
import { SplitMix64 } from './rng.js';
import {
  applyRepetitionPenalty,
  argmaxFirst,
  logSumExp,
  nucleus,
  Sampler,
  topKIndices,
  topLogprobs,
  validateSampling,
} from './sampling.js';

const params = (over: Partial<SamplingParams>): SamplingParams => ({ ...DEFAULT_SAMPLING, ...over });
const logitsOf = (probs: number[]): Float32Array => Float32Array.from(probs, (p) => Math.log(p));

function frequencies(sampler: Sampler, logits: Float32Array, draws: number): number[] {
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[sampler.sample(logits).tokenId]!++;
  return counts.map((c) => c / draws);
}

describe('SplitMix64', () => {
  it('matches the reference outputs for seed 0 (Vigna, splitmix64.c)', () => {
    const r = new SplitMix64(0);
    expect(r.nextU64()).toBe(0xe220a8397b1dcdafn);
    expect(r.nextU64()).toBe(0x6e789e6aa1b965f4n);
    expect(r.nextU64()).toBe(0x06c45d188009454fn);
  });

  it('gives floats in [0, 1) with a mean near 1/2, and the same stream for the same seed', () => {
    const a = new SplitMix64(42);
    const b = new SplitMix64(42);
    let sum = 0;
    for (let i = 0; i < 10_000; i++) {
      const x = a.nextFloat();
      expect(x).toBe(b.nextFloat());
      expect(x >= 0 && x < 1).toBe(true);
      sum += x;
    }
    expect(Math.abs(sum / 10_000 - 0.5)).toBeLessThan(0.02);
    expect(new SplitMix64(43).nextFloat()).not.toBe(new SplitMix64(42).nextFloat());
  });
});

describe('greedy and helpers', () => {
  it('argmax keeps the first maximum and ignores NaN', () => {
    expect(argmaxFirst([1, 3, 3, 2])).toBe(1);
    expect(argmaxFirst([NaN, -1, NaN])).toBe(1);
    expect(argmaxFirst([-Infinity, -Infinity])).toBe(0);
  });

  it('greedy sampling picks the first maximum and reports raw log-softmax', () => {
    const s = new Sampler(params({}));
    const logits = Float32Array.from([0.5, 2, 2, -1]);
    const r = s.sample(logits);
    expect(r.tokenId).toBe(1);
    expect(r.logprob).toBeCloseTo(2 - logSumExp(logits), 12);
    expect(s.argmaxOnly).toBe(true);
    expect(new Sampler(params({ topLogprobs: 2 })).argmaxOnly).toBe(false);
    expect(new Sampler(params({ repetitionPenalty: 1.1 })).argmaxOnly).toBe(false);
  });

  it('topKIndices orders by value, ties by lower index, NaN last', () => {
    expect(Array.from(topKIndices([1, 5, NaN, 5, 3, 0], 4))).toEqual([1, 3, 4, 0]);
    expect(Array.from(topKIndices([2, 1], 5))).toEqual([0, 1]);
    const big = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
    const byHand = Array.from(big.keys()).sort((a, b) => big[b]! - big[a]! || a - b).slice(0, 50);
    expect(Array.from(topKIndices(big, 50))).toEqual(byHand);
  });

  it('top logprobs are the log-softmax of the raw logits, most likely first', () => {
    const logits = logitsOf([0.1, 0.6, 0.3]);
    const top = topLogprobs(logits, 2);
    expect(top.map((t) => t.tokenId)).toEqual([1, 2]);
    expect(top[0]!.logprob).toBeCloseTo(Math.log(0.6), 6);
    expect(top[1]!.logprob).toBeCloseTo(Math.log(0.3), 6);
  });
});

describe('repetition penalty (llama.cpp semantics)', () => {
  it('divides positive and multiplies negative logits of seen tokens only', () => {
    const z = Float64Array.from([2, -1, 1.5, 4]);
    applyRepetitionPenalty(z, [0, 1], 2);
    expect(Array.from(z)).toEqual([1, -2, 1.5, 4]);
  });

  it('changes the greedy choice away from a prompt token', () => {
    const logits = Float32Array.from([2, -1, 1.5]);
    expect(new Sampler(params({}), [0]).sample(logits).tokenId).toBe(0);
    expect(new Sampler(params({ repetitionPenalty: 2 }), [0]).sample(logits).tokenId).toBe(2);
  });

  it('counts generated tokens once accepted', () => {
    const s = new Sampler(params({ repetitionPenalty: 3 }));
    const logits = Float32Array.from([3, 2]);
    expect(s.sample(logits).tokenId).toBe(0);
    s.accept(0);
    expect(s.sample(logits).tokenId).toBe(1);
  });
});

describe('stochastic sampling with fixed seeds', () => {
  const probs = [0.5, 0.3, 0.15, 0.05];
  const logits = logitsOf(probs);
  const draws = 20_000;
  // 4 standard deviations of a binomial proportion at n = 20000 is at most 0.0142.
  const tol = 0.015;

  it('temperature 1 reproduces the softmax distribution', () => {
    const f = frequencies(new Sampler(params({ temperature: 1, seed: 7 })), logits, draws);
    f.forEach((x, i) => expect(Math.abs(x - probs[i]!)).toBeLessThan(tol));
  });

  it('temperature 0.5 sharpens it to p² / Σp²', () => {
    const sq = probs.map((p) => p * p);
    const total = sq.reduce((a, b) => a + b);
    const f = frequencies(new Sampler(params({ temperature: 0.5, seed: 8 })), logits, draws);
    f.forEach((x, i) => expect(Math.abs(x - sq[i]! / total)).toBeLessThan(tol));
  });

  it('top-k masks everything past the k-th token and renormalizes', () => {
    const f = frequencies(new Sampler(params({ temperature: 1, topK: 2, seed: 9 })), logits, draws);
    expect(f[2]).toBe(0);
    expect(f[3]).toBe(0);
    expect(Math.abs(f[0]! - 0.625)).toBeLessThan(tol);
  });

  it('top-p keeps the smallest prefix reaching the mass', () => {
    const f = frequencies(new Sampler(params({ temperature: 1, topP: 0.7, seed: 10 })), logits, draws);
    expect(f[2]).toBe(0);
    expect(f[3]).toBe(0);
    expect(Math.abs(f[1]! - 0.375)).toBeLessThan(tol);
    const only = frequencies(new Sampler(params({ temperature: 1, topP: 0.5, seed: 11 })), logits, 200);
    expect(only[0]).toBe(1);
  });

  it('top-p over a large vocabulary (past the first sorted prefix) matches the exact nucleus', () => {
    const V = 4096;
    const z = Float64Array.from({ length: V }, (_, i) => -0.001 * i);
    const { ids } = nucleus(z, 0, 0.9);
    const w = Array.from(z, (x) => Math.exp(x));
    const total = w.reduce((a, b) => a + b);
    let acc = 0;
    let expected = 0;
    while (acc < 0.9 * total) acc += w[expected++]!;
    expect(ids.length).toBe(expected);
    expect(ids[0]).toBe(0);
  });

  it('top-p within top-k measures mass among the top-k survivors', () => {
    const z = Float64Array.from([Math.log(0.4), Math.log(0.4), Math.log(0.1), Math.log(0.1)]);
    // Among the top 2 (0.5 each), 0.5 reaches top_p = 0.5 with one token.
    expect(Array.from(nucleus(z, 2, 0.5).ids)).toEqual([0]);
  });

  it('the same seed gives the same tokens, a different seed a different stream', () => {
    const run = (seed: number): number[] => {
      const s = new Sampler(params({ temperature: 1, topK: 3, topP: 0.95, seed }));
      return Array.from({ length: 64 }, () => s.sample(logits).tokenId);
    };
    expect(run(123)).toEqual(run(123));
    expect(run(123)).not.toEqual(run(124));
  });

  it('a subnormal temperature is greedy and never leaves the mask (1/T overflows to Infinity)', () => {
    // Token 0 is masked out; tokens 1 and 3 are allowed and 3 is the likelier.
    const allowed = () => Uint32Array.of(0b1010);
    for (const temperature of [5e-324, 7.4e-323, 1e-300]) {
      const s = new Sampler(params({ temperature, seed: 1, typicalP: 0.05, topK: 30, topP: 0.7 }), [], allowed);
      // Every allowed logit negative: scaled by 1/T = Infinity they all became -Infinity, and the draw fell on token 0.
      for (let i = 0; i < 8; i++) expect(s.sample(Float32Array.of(9, -2, 8, -1)).tokenId).toBe(3);
      const plain = new Sampler(params({ temperature, seed: 2 }), [], allowed);
      for (let i = 0; i < 8; i++) expect(plain.sample(Float32Array.of(9, 1, 8, 2)).tokenId).toBe(3);
    }
  });
});

describe('validateSampling', () => {
  const bad: [Partial<SamplingParams>, string][] = [
    [{ maxTokens: 0 }, 'max_tokens'],
    [{ maxTokens: 1.5 }, 'max_tokens'],
    [{ temperature: -0.1 }, 'temperature'],
    [{ temperature: NaN }, 'temperature'],
    [{ topP: 0 }, 'top_p'],
    [{ topP: 1.01 }, 'top_p'],
    [{ topK: -1 }, 'top_k'],
    [{ repetitionPenalty: 0 }, 'repetition_penalty'],
    [{ seed: 0.5 }, 'seed'],
    [{ topLogprobs: 21 }, 'top_logprobs'],
    [{ stop: [''] }, 'stop[0]'],
    [{ stop: Array.from({ length: 17 }, () => 'x') }, 'stop'],
  ];
  it.each(bad)('rejects %o naming %s', (over, field) => {
    try {
      validateSampling(params(over));
      expect.unreachable();
    } catch (e) {
      expect(TrineError.is(e, 'INVALID_ARGUMENT')).toBe(true);
      expect((e as TrineError).field).toBe(field);
    }
  });
  it('accepts the defaults and bounds max_tokens by the given limit', () => {
    expect(() => validateSampling(DEFAULT_SAMPLING)).not.toThrow();
    expect(() => validateSampling(params({ maxTokens: 600 }), 512)).toThrow(/max_tokens/);
  });
});

describe('min_p, typical_p, presence / frequency penalties, logit_bias, ignore_eos', () => {
  const probs = [0.5, 0.25, 0.15, 0.1];
  const draw = (over: Partial<SamplingParams>, logits = logitsOf(probs), eog: number[] = []): number[] =>
    frequencies(new Sampler(params({ temperature: 1, seed: 11, ...over }), [], undefined, eog), logits, 20_000);

  it('min_p keeps tokens with at least min_p × the top probability, renormalized', () => {
    const f = draw({ minP: 0.4 }); // 0.4 × 0.5 = 0.2: keeps 0.5 and 0.25
    expect(f[2]).toBe(0);
    expect(f[3]).toBe(0);
    expect(f[0]).toBeCloseTo(2 / 3, 1);
  });

  it('typical_p keeps the tokens nearest the entropy until their mass reaches typical_p', () => {
    // H = 1.208 nats; |surprisal − H|: 0.515, 0.178, 0.689, 1.095 → order 1, 0, 2, 3; 0.25 + 0.5 ≥ 0.7.
    const f = draw({ typicalP: 0.7 });
    expect(f[2]).toBe(0);
    expect(f[3]).toBe(0);
    expect(f[1]).toBeCloseTo(1 / 3, 1);
  });

  it('presence and frequency penalties lower the logits of tokens already generated, by OpenAI\'s formula', () => {
    const logits = Float32Array.of(2, 1.9, 0);
    const s = new Sampler(params({ presencePenalty: 0.05, frequencyPenalty: 0.1 }), [0, 0, 0]); // the prompt does not count
    expect(s.argmaxOnly).toBe(false);
    expect(s.sample(logits).tokenId).toBe(0);
    s.accept(0); // 2 − 0.1 − 0.05 = 1.85 < 1.9
    expect(s.sample(logits).tokenId).toBe(1);
    s.accept(1); // 1.85 vs 1.75
    expect(s.sample(logits).tokenId).toBe(0);
  });

  it('logit_bias shifts raw logits; -100 bans a token and +100 forces it', () => {
    expect(draw({ logitBias: { 0: -100 } })[0]).toBe(0);
    expect(draw({ logitBias: { 3: 100 } })[3]).toBe(1);
    expect(new Sampler(params({ logitBias: { 2: 5 } })).sample(logitsOf(probs)).tokenId).toBe(2);
  });

  it('ignore_eos never draws an end-of-generation token', () => {
    const f = draw({ ignoreEos: true }, logitsOf(probs), [0]);
    expect(f[0]).toBe(0);
    expect(new Sampler(params({ ignoreEos: true }), [], undefined, [0]).sample(logitsOf(probs)).tokenId).toBe(1);
  });

  it('validation names the field', () => {
    for (const [over, field] of [
      [{ minP: 1.5 }, 'min_p'],
      [{ typicalP: 0 }, 'typical_p'],
      [{ presencePenalty: 3 }, 'presence_penalty'],
      [{ frequencyPenalty: -2.5 }, 'frequency_penalty'],
      [{ logitBias: { 5: 101 } }, 'logit_bias[5]'],
      [{ logitBias: { 99: 1 } }, 'logit_bias[99]'],
      [{ logitBias: { '-1': 1 } }, 'logit_bias[-1]'],
      [{ ignoreEos: 'yes' as unknown as boolean }, 'ignore_eos'],
    ] as [Partial<SamplingParams>, string][]) {
      try {
        validateSampling(params(over), 1000, 64);
        throw new Error(`accepted ${JSON.stringify(over)}`);
      } catch (e) {
        expect(TrineError.is(e, 'INVALID_ARGUMENT'), String(e)).toBe(true);
        expect((e as TrineError).field).toBe(field);
      }
    }
    expect(() => validateSampling(params({ minP: 0.1, typicalP: 0.9, presencePenalty: -2, frequencyPenalty: 2, logitBias: { 63: -100 }, ignoreEos: true }), 1000, 64)).not.toThrow();
  });
});
