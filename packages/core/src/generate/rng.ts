/**
 * SplitMix64 (Steele, Lea & Flood 2014; the seeder of xoshiro): 64-bit state, 64-bit output, integer math only.
 * BigInt keeps it exact on every platform and backend; one or two draws per generated token make its cost irrelevant.
 * Same seed, same sequence — everywhere — which is what "same seed, same tokens on every backend" rests on.
 */
const MASK64 = (1n << 64n) - 1n;
const GAMMA = 0x9e3779b97f4a7c15n;
const MIX1 = 0xbf58476d1ce4e5b9n;
const MIX2 = 0x94d049bb133111ebn;
const TWO_POW_53 = 2 ** 53;

export class SplitMix64 {
  private state: bigint;

  /** Any integer seed (negative ones wrap to their 64-bit two's complement). */
  constructor(seed: number | bigint) {
    this.state = BigInt.asUintN(64, BigInt(seed));
  }

  /** The next 64-bit output as an unsigned BigInt. */
  nextU64(): bigint {
    this.state = (this.state + GAMMA) & MASK64;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * MIX1) & MASK64;
    z = ((z ^ (z >> 27n)) * MIX2) & MASK64;
    return z ^ (z >> 31n);
  }

  /** Uniform in [0, 1) from the top 53 bits (every double in the grid k·2⁻⁵³ equally likely). */
  nextFloat(): number {
    return Number(this.nextU64() >> 11n) / TWO_POW_53;
  }
}

/** A random seed for requests that give none (not reproducible, by design). */
export function randomSeed(): number {
  return Math.floor(Math.random() * TWO_POW_53);
}
