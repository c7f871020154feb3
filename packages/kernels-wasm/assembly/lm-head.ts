// LM head: logits[v] = matrix[v,:] · x for v ∈ [v0, v1). x is already rounded to f16 for f16/q8 matrices.
import { f16_to_f32, h2f } from './f16';

@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * Half bits as f32 bits scaled by 2^-112, straight from the i32 lanes of 8 loaded halves (no widening shuffles):
 * a lane holds an even half in bits 0–15 and an odd half in bits 16–31; shifting the half to the top, then
 * arithmetic-shifting right by 3 puts its sign in bit 31 (and 30–28) and its 15 magnitude bits in 27–13; the mask
 * keeps those. Exact for every finite half (subnormals land on exact f32 subnormals). The 2^112 goes on x instead
 * (x is an f16 value, |x| ≤ 65504, so x·2^112 stays finite), and (x·2^112)·(h·2^-112) rounds exactly like x·h.
 * Inf/NaN halves would come out finite: matrices holding any use lm_head_f16_exact.
 */
const SIGN_MAG: v128 = i32x4.splat(0x8fffe000);
@inline function even_halves(v: v128): v128 {
  return v128.and(i32x4.shr_s(i32x4.shl(v, 16), 3), SIGN_MAG);
}
@inline function odd_halves(v: v128): v128 {
  return v128.and(i32x4.shr_s(v, 3), SIGN_MAG);
}

/** acc + x_even·even(h) + x_odd·odd(h): 8 halves of one row (one accumulator per row keeps 6 rows in registers). */
@inline function mac8(acc: v128, h: v128, xe: v128, xo: v128): v128 {
  return f32x4.add(f32x4.add(acc, f32x4.mul(xe, even_halves(h))), f32x4.mul(xo, odd_halves(h)));
}

/** One row: the full blocks of 8, then the unpermuted tail (D % 8 values). */
@inline function lm_row_f16(x: usize, row: usize, D: i32): f32 {
  let a = f32x4.splat(0);
  let d = 0;
  for (; d + 8 <= D; d += 8) {
    const xp = x + ((<usize>d) << 2);
    a = mac8(a, v128.load(row + ((<usize>d) << 1)), v128.load(xp), v128.load(xp, 16));
  }
  return hsum(a) + lm_tail_f16(x, row, D);
}

@inline function lm_tail_f16(x: usize, row: usize, D: i32): f32 {
  let s: f32 = 0;
  for (let d = D & ~7; d < D; d++) {
    const h = <i32>load<i16>(row + ((<usize>d) << 1));
    s += load<f32>(x + ((<usize>d) << 2)) * reinterpret<f32>((h << 13) & 0x8fffe000);
  }
  return s;
}

/**
 * x here is f16-rounded, multiplied by 2^112 and permuted per 8 values to (0, 2, 4, 6, 1, 3, 5, 7) so it lines up
 * with even_halves / odd_halves (round_f16_row_scaled with permute = 1). Six rows per pass share each x load and
 * the loop overhead (1.4x over one row at a time on V8); leftover rows go one at a time.
 */
export function lm_head_f16(out: usize, x: usize, table: usize, D: i32, tid: i32, v0: i32, v1: i32): void {
  const stride = (<usize>D) << 1;
  let v = v0;
  for (; v + 6 <= v1; v += 6) {
    const r0 = table + <usize>v * stride;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0), a4 = f32x4.splat(0), a5 = f32x4.splat(0);
    for (let d = 0; d + 8 <= D; d += 8) {
      const p = r0 + ((<usize>d) << 1);
      const xp = x + ((<usize>d) << 2);
      const xe = v128.load(xp), xo = v128.load(xp, 16);
      a0 = mac8(a0, v128.load(p), xe, xo);
      a1 = mac8(a1, v128.load(p + stride), xe, xo);
      a2 = mac8(a2, v128.load(p + stride * 2), xe, xo);
      a3 = mac8(a3, v128.load(p + stride * 3), xe, xo);
      a4 = mac8(a4, v128.load(p + stride * 4), xe, xo);
      a5 = mac8(a5, v128.load(p + stride * 5), xe, xo);
    }
    const o = out + ((<usize>v) << 2);
    store<f32>(o, hsum(a0) + lm_tail_f16(x, r0, D));
    store<f32>(o, hsum(a1) + lm_tail_f16(x, r0 + stride, D), 4);
    store<f32>(o, hsum(a2) + lm_tail_f16(x, r0 + stride * 2, D), 8);
    store<f32>(o, hsum(a3) + lm_tail_f16(x, r0 + stride * 3, D), 12);
    store<f32>(o, hsum(a4) + lm_tail_f16(x, r0 + stride * 4, D), 16);
    store<f32>(o, hsum(a5) + lm_tail_f16(x, r0 + stride * 5, D), 20);
  }
  for (; v < v1; v++) store<f32>(out + ((<usize>v) << 2), lm_row_f16(x, table + <usize>v * stride, D));
}

/** The general f16 head (any half, Inf/NaN included); x is f16-rounded, unscaled. */
export function lm_head_f16_exact(out: usize, x: usize, table: usize, D: i32, tid: i32, v0: i32, v1: i32): void {
  for (let v = v0; v < v1; v++) {
    const row = table + ((<usize>v * <usize>D) << 1);
    let a = f32x4.splat(0), b = f32x4.splat(0), c = f32x4.splat(0), e = f32x4.splat(0);
    let d = 0;
    for (; d + 16 <= D; d += 16) {
      const h0 = v128.load(row + ((<usize>d) << 1));
      const h1 = v128.load(row + ((<usize>d) << 1), 16);
      const xp = x + ((<usize>d) << 2);
      a = f32x4.add(a, f32x4.mul(v128.load(xp), h2f(i32x4.extend_low_i16x8_u(h0))));
      b = f32x4.add(b, f32x4.mul(v128.load(xp, 16), h2f(i32x4.extend_high_i16x8_u(h0))));
      c = f32x4.add(c, f32x4.mul(v128.load(xp, 32), h2f(i32x4.extend_low_i16x8_u(h1))));
      e = f32x4.add(e, f32x4.mul(v128.load(xp, 48), h2f(i32x4.extend_high_i16x8_u(h1))));
    }
    let s = hsum(f32x4.add(f32x4.add(a, b), f32x4.add(c, e)));
    for (; d < D; d++) s += load<f32>(x + ((<usize>d) << 2)) * f16_to_f32(load<u16>(row + ((<usize>d) << 1)));
    store<f32>(out + ((<usize>v) << 2), s);
  }
}

export function lm_head_f32(out: usize, x: usize, table: usize, D: i32, tid: i32, v0: i32, v1: i32): void {
  for (let v = v0; v < v1; v++) {
    const row = table + ((<usize>v * <usize>D) << 2);
    let a = f32x4.splat(0), b = f32x4.splat(0);
    let d = 0;
    for (; d + 8 <= D; d += 8) {
      const o = (<usize>d) << 2;
      a = f32x4.add(a, f32x4.mul(v128.load(x + o), v128.load(row + o)));
      b = f32x4.add(b, f32x4.mul(v128.load(x + o, 16), v128.load(row + o, 16)));
    }
    let s = hsum(f32x4.add(a, b));
    for (; d < D; d++) s += load<f32>(x + ((<usize>d) << 2)) * load<f32>(row + ((<usize>d) << 2));
    store<f32>(out + ((<usize>v) << 2), s);
  }
}

/** q8 rows: out = f32(Σ q·x) · rowScale. */
export function lm_head_q8(out: usize, x: usize, table: usize, scales: usize, D: i32, tid: i32, v0: i32, v1: i32): void {
  for (let v = v0; v < v1; v++) {
    const row = table + <usize>v * <usize>D;
    let a = f32x4.splat(0), b = f32x4.splat(0), c = f32x4.splat(0), e = f32x4.splat(0);
    let d = 0;
    for (; d + 16 <= D; d += 16) {
      const q = v128.load(row + d);
      const lo = i16x8.extend_low_i8x16_s(q);
      const hi = i16x8.extend_high_i8x16_s(q);
      const xp = x + ((<usize>d) << 2);
      a = f32x4.add(a, f32x4.mul(v128.load(xp), f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo))));
      b = f32x4.add(b, f32x4.mul(v128.load(xp, 16), f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo))));
      c = f32x4.add(c, f32x4.mul(v128.load(xp, 32), f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi))));
      e = f32x4.add(e, f32x4.mul(v128.load(xp, 48), f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi))));
    }
    let s = hsum(f32x4.add(f32x4.add(a, b), f32x4.add(c, e)));
    for (; d < D; d++) s += load<f32>(x + ((<usize>d) << 2)) * <f32>load<i8>(row + d);
    store<f32>(out + ((<usize>v) << 2), s * load<f32>(scales + ((<usize>v) << 2)));
  }
}
