// IEEE half conversions inside wasm (round to nearest even), matching packages/core/src/quant/f16.ts bit for bit.

/** f32 → f16 bits, round to nearest even; overflow → ±Inf, NaN stays NaN. Scalar: only the KV store and the
 *  LM head's input rounding use it (a few thousand values per token). */
export function f32_to_f16(x: f32): u32 {
  const b = reinterpret<u32>(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp == 0xff) return sign | 0x7c00 | (mant != 0 ? 0x200 : 0);
  const e = <i32>exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = <u32>(14 - e);
    const half = (<u32>1) << (shift - 1);
    const rest = mant & (((<u32>1) << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest == half && (h & 1) != 0)) h++;
    return sign | h;
  }
  let h = ((<u32>e) << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) h++; // may carry into the exponent: still correct
  return sign | h;
}

/** 2^112: moves a half's exponent field (shifted into f32 position) to the f32 bias; exact for subnormals too. */
const F16_RESCALE: f32 = reinterpret<f32>(0x77800000);

/** f16 bits → f32 (exact). */
@inline export function f16_to_f32(h: u32): f32 {
  const mag = (h & 0x7fff) << 13;
  let bits = reinterpret<u32>(reinterpret<f32>(mag) * F16_RESCALE);
  if ((h & 0x7c00) == 0x7c00) bits |= 0x7f800000; // Inf / NaN keep their mantissa
  return reinterpret<f32>(bits | ((h & 0x8000) << 16));
}

@inline export function round_f16(x: f32): f32 {
  return f16_to_f32(f32_to_f16(x));
}

/** Four halves (zero-extended into i32 lanes) → f32x4, exact; the SIMD twin of f16_to_f32. */
@inline export function h2f(h: v128): v128 {
  const mag = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  let f = f32x4.mul(mag, f32x4.splat(F16_RESCALE));
  const special = i32x4.eq(v128.and(h, i32x4.splat(0x7c00)), i32x4.splat(0x7c00));
  f = v128.or(f, v128.and(special, i32x4.splat(0x7f800000)));
  return v128.or(f, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** dst[i] = f32(round_f16(src[i])) for n values (the LM head's and attention's input rounding). */
export function round_f16_row(dst: usize, src: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(dst + o, round_f16(load<f32>(src + o)));
  }
}

/**
 * dst[i] = round_f16(src[i]) · scale (scale a power of two: exact). With permute, each full block of 8 is stored in
 * the order (0, 2, 4, 6, 1, 3, 5, 7) of the halves' even/odd split (see lm_head_f16); the tail (n % 8) is not.
 */
export function round_f16_row_scaled(dst: usize, src: usize, n: i32, scale: f32, permute: bool): void {
  const full = permute ? n & ~7 : 0;
  for (let i = 0; i < n; i++) {
    let j = i;
    if (i < full) {
      const k = i & 7; // position within its block of 8
      j = (i & ~7) + (k & 1 ? 4 + (k >> 1) : k >> 1);
    }
    store<f32>(dst + ((<usize>j) << 2), round_f16(load<f32>(src + ((<usize>i) << 2))) * scale);
  }
}

/** 1 when any of n halves is Inf or NaN (exponent all ones): such matrices take the exact LM head kernel. */
export function f16_has_special(src: usize, n: usize): i32 {
  const e = i16x8.splat(0x7c00);
  let any = i16x8.splat(0);
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) any = v128.or(any, i16x8.eq(v128.and(v128.load(src + (i << 1)), e), e));
  if (v128.any_true(any)) return 1;
  for (; i < n; i++) if ((load<u16>(src + (i << 1)) & 0x7c00) == 0x7c00) return 1;
  return 0;
}

/** Exposed for tests: convert n f32 values to f16 bits and back through the SIMD path. */
export function f32_to_f16_row(dst: usize, src: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<u16>(dst + ((<usize>i) << 1), <u16>f32_to_f16(load<f32>(src + ((<usize>i) << 2))));
}
export function f16_to_f32_row_simd(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const v = v128.load(src + ((<usize>i) << 1));
    v128.store(dst + ((<usize>i) << 2), h2f(i32x4.extend_low_i16x8_u(v)));
    v128.store(dst + ((<usize>i) << 2), h2f(i32x4.extend_high_i16x8_u(v)), 16);
  }
  for (; i < n; i++) store<f32>(dst + ((<usize>i) << 2), f16_to_f32(load<u16>(src + ((<usize>i) << 1))));
}
