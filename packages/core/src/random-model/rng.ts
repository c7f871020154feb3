import { SplitMix64 } from '../generate/rng.js';

/**
 * xoshiro128** (Blackman & Vigna) seeded by SplitMix64: 32-bit integer math only (Math.imul, shifts), so every
 * platform draws the same weights; fast enough for the million-odd draws a model needs.
 */
export class WeightRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number | bigint) {
    const sm = new SplitMix64(seed);
    const a = sm.nextU64();
    const b = sm.nextU64();
    this.s0 = Number(a & 0xffffffffn) | 0;
    this.s1 = Number(a >> 32n) | 0;
    this.s2 = Number(b & 0xffffffffn) | 0;
    this.s3 = Number(b >> 32n) | 0;
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) (exact: a 32-bit integer over 2³²). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Approximately N(0, 1): Irwin-Hall sum of 4 uniforms, centred and scaled — no Math.log/cos, so exact everywhere. */
  normal(): number {
    return (this.uniform() + this.uniform() + this.uniform() + this.uniform() - 2) * SQRT3;
  }

  /** Uniform ternary codes {-1, 0, +1}: 2-bit fields of 32-bit draws, rejecting the value 3. */
  fillTernary(out: Int8Array): void {
    let i = 0;
    while (i < out.length) {
      let x = this.nextU32();
      for (let f = 0; f < 16 && i < out.length; f++, x >>>= 2) {
        const v = x & 3;
        if (v !== 3) out[i++] = v - 1;
      }
    }
  }
}

const SQRT3 = Math.sqrt(3);

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
