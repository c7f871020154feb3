import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, roundHalfEven } from './f16.js';

describe('f16', () => {
  it('round-trips every finite half exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const e = (h >>> 10) & 0x1f;
      if (e === 0x1f) continue;
      const back = f32ToF16(f16ToF32(h));
      // -0 and +0 keep their sign bit
      expect(back).toBe(h);
    }
  });
  it('rounds to nearest even at the halfway point', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1.0)
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even)
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16(65520)).toBe(0x7c00); // rounds up to infinity
    expect(f32ToF16(2 ** -25)).toBe(0); // halfway to the smallest subnormal: even is 0
    expect(f32ToF16(3 * 2 ** -26)).toBe(1);
  });
  it('converts bf16 both ways', () => {
    expect(bf16ToF32(f32ToBf16(1.5))).toBe(1.5);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(Number.isNaN(bf16ToF32(f32ToBf16(NaN)))).toBe(true);
  });
  it('rounds half to even like nearbyint', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, -3]);
  });
});
