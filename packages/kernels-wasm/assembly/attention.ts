// KV cache store and causal grouped-query attention over an f16 or f32 cache.
// Cache layout (per cache): layer l holds K [slots, context, Hkv, Dh] then V [same], each element 2 or 4 bytes.
import { f16_to_f32, f32_to_f16, h2f, round_f16 } from './f16';

/**
 * Store k, v f32 [n, row] at (slots[i], positions[i]) of one layer; an f16 cache stores half bits. Returns 1 when
 * an Inf or NaN half was stored (the fast attention path assumes finite halves; see attention()).
 */
export function kv_store(kbase: usize, vbase: usize, k: usize, v: usize, row: i32, positions: usize, slots: usize,
  n: i32, context: i32, half: bool): i32 {
  let special: u32 = 0;
  for (let i = 0; i < n; i++) {
    const cell = <usize>(load<i32>(slots + ((<usize>i) << 2)) * context + load<i32>(positions + ((<usize>i) << 2))) * <usize>row;
    const src = (<usize>(i * row)) << 2;
    if (half) {
      for (let d = 0; d < row; d++) {
        const o = (cell + <usize>d) << 1;
        const hk = f32_to_f16(load<f32>(k + src + ((<usize>d) << 2)));
        const hv = f32_to_f16(load<f32>(v + src + ((<usize>d) << 2)));
        store<u16>(kbase + o, <u16>hk);
        store<u16>(vbase + o, <u16>hv);
        special |= u32((hk & 0x7c00) == 0x7c00) | u32((hv & 0x7c00) == 0x7c00);
      }
    } else {
      memory.copy(kbase + (cell << 2), k + src, (<usize>row) << 2);
      memory.copy(vbase + (cell << 2), v + src, (<usize>row) << 2);
    }
  }
  return <i32>special;
}

// The fast f16 path (caches holding only finite halves): halves are read as f32 bit patterns scaled by 2^-112
// straight from the i32 lanes of 8 loaded halves, even halves then odd (as lm-head.ts explains), so q is stored
// scaled by 2^112 and permuted per 8 to (0, 2, 4, 6, 1, 3, 5, 7), and V is accumulated in that order with p·2^112,
// then put back in order. Every product rounds exactly as the unscaled one.
const SIGN_MAG: v128 = i32x4.splat(0x8fffe000);
const POW2_112: f32 = reinterpret<f32>(0x77800000);
@inline function even_halves(v: v128): v128 {
  return v128.and(i32x4.shr_s(i32x4.shl(v, 16), 3), SIGN_MAG);
}
@inline function odd_halves(v: v128): v128 {
  return v128.and(i32x4.shr_s(v, 3), SIGN_MAG);
}
@inline function half_small(h: u32): f32 {
  return reinterpret<f32>((<i32><i16>h << 13) & 0x8fffe000);
}
/** Position of element d in the per-8 even/odd order (d beyond the last full block of 8 stays). */
@inline function perm8(d: i32, full: i32): i32 {
  if (d >= full) return d;
  const k = d & 7;
  return (d & ~7) + ((k & 1) != 0 ? 4 + (k >> 1) : k >> 1);
}

@inline function dot_qk_fast(q: usize, k: usize, Dh: i32): f32 {
  let a = f32x4.splat(0);
  let b = f32x4.splat(0);
  let d = 0;
  for (; d + 8 <= Dh; d += 8) {
    const kv = v128.load(k + ((<usize>d) << 1));
    a = f32x4.add(a, f32x4.mul(v128.load(q + ((<usize>d) << 2)), even_halves(kv)));
    b = f32x4.add(b, f32x4.mul(v128.load(q + ((<usize>d) << 2), 16), odd_halves(kv)));
  }
  let s = hsum(f32x4.add(a, b));
  for (; d < Dh; d++) s += load<f32>(q + ((<usize>d) << 2)) * half_small(load<u16>(k + ((<usize>d) << 1)));
  return s;
}

@inline function axpy_v_fast(acc: usize, p: f32, v: usize, Dh: i32): void {
  const vp = f32x4.splat(p);
  let d = 0;
  for (; d + 8 <= Dh; d += 8) {
    const o = acc + ((<usize>d) << 2);
    const vv = v128.load(v + ((<usize>d) << 1));
    v128.store(o, f32x4.add(v128.load(o), f32x4.mul(vp, even_halves(vv))));
    v128.store(o, f32x4.add(v128.load(o, 16), f32x4.mul(vp, odd_halves(vv))), 16);
  }
  for (; d < Dh; d++) {
    const o = acc + ((<usize>d) << 2);
    store<f32>(o, load<f32>(o) + p * half_small(load<u16>(v + ((<usize>d) << 1))));
  }
}

@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** q·k over Dh values; k is f16 bits (half) or f32. */
@inline function dot_qk(q: usize, k: usize, Dh: i32, half: bool): f32 {
  let a = f32x4.splat(0);
  let b = f32x4.splat(0);
  let d = 0;
  if (half) {
    for (; d + 8 <= Dh; d += 8) {
      const kv = v128.load(k + ((<usize>d) << 1));
      a = f32x4.add(a, f32x4.mul(v128.load(q + ((<usize>d) << 2)), h2f(i32x4.extend_low_i16x8_u(kv))));
      b = f32x4.add(b, f32x4.mul(v128.load(q + ((<usize>d) << 2), 16), h2f(i32x4.extend_high_i16x8_u(kv))));
    }
  } else {
    for (; d + 8 <= Dh; d += 8) {
      a = f32x4.add(a, f32x4.mul(v128.load(q + ((<usize>d) << 2)), v128.load(k + ((<usize>d) << 2))));
      b = f32x4.add(b, f32x4.mul(v128.load(q + ((<usize>d) << 2), 16), v128.load(k + ((<usize>d) << 2), 16)));
    }
  }
  let s = hsum(f32x4.add(a, b));
  for (; d < Dh; d++) {
    const kd = half ? f16_to_f32(load<u16>(k + ((<usize>d) << 1))) : load<f32>(k + ((<usize>d) << 2));
    s += load<f32>(q + ((<usize>d) << 2)) * kd;
  }
  return s;
}

/** out[0..Dh) += p · v. */
@inline function axpy_v(out: usize, p: f32, v: usize, Dh: i32, half: bool): void {
  const vp = f32x4.splat(p);
  let d = 0;
  for (; d + 8 <= Dh; d += 8) {
    const o = out + ((<usize>d) << 2);
    let lo: v128, hi: v128;
    if (half) {
      const vv = v128.load(v + ((<usize>d) << 1));
      lo = h2f(i32x4.extend_low_i16x8_u(vv));
      hi = h2f(i32x4.extend_high_i16x8_u(vv));
    } else {
      lo = v128.load(v + ((<usize>d) << 2));
      hi = v128.load(v + ((<usize>d) << 2), 16);
    }
    v128.store(o, f32x4.add(v128.load(o), f32x4.mul(vp, lo)));
    v128.store(o, f32x4.add(v128.load(o, 16), f32x4.mul(vp, hi)), 16);
  }
  for (; d < Dh; d++) {
    const vd = half ? f16_to_f32(load<u16>(v + ((<usize>d) << 1))) : load<f32>(v + ((<usize>d) << 2));
    const o = out + ((<usize>d) << 2);
    store<f32>(o, load<f32>(o) + p * vd);
  }
}

/**
 * Causal GQA for units u ∈ [u0, u1), u = token·H + head: query head h reads KV head h / (H / Hkv), positions
 * 0..positions[i] of slot slots[i]. q is rounded to f16 when the cache is f16; softmax in f32 with the scale
 * inside and exp in f64; probabilities rounded to f16 when roundProbs. `fast` (f16 caches without Inf/NaN) takes
 * the shuffle-free half decoding above. Thread `tid` uses scratch at scratchBase + tid·scratchStride
 * (2·Dh + context floats).
 */
export function attention(out: usize, q: usize, kbase: usize, vbase: usize, positions: usize, slots: usize,
  H: i32, Hkv: i32, Dh: i32, context: i32, scale: f32, roundProbs: bool, half: bool, fast: bool, scratchBase: usize,
  scratchStride: usize, tid: i32, u0: i32, u1: i32): void {
  const scratch = scratchBase + <usize>tid * scratchStride;
  const group = H / Hkv;
  const esz: usize = half ? 2 : 4;
  const kvRow = <usize>(Hkv * Dh);
  const qh = scratch;
  const acc = scratch + ((<usize>Dh) << 2);
  const probs = acc + ((<usize>Dh) << 2);
  const full = Dh & ~7;
  for (let u = u0; u < u1; u++) {
    const i = u / H;
    const h = u % H;
    const pos = load<i32>(positions + ((<usize>i) << 2));
    const slot = load<i32>(slots + ((<usize>i) << 2));
    const kvh = h / group;
    const qsrc = q + ((<usize>(u * Dh)) << 2);
    for (let d = 0; d < Dh; d++) {
      const x = load<f32>(qsrc + ((<usize>d) << 2));
      if (fast) store<f32>(qh + ((<usize>perm8(d, full)) << 2), round_f16(x) * POW2_112);
      else store<f32>(qh + ((<usize>d) << 2), half ? round_f16(x) : x);
    }
    const cell0 = <usize>(slot * context) * kvRow + <usize>(kvh * Dh);
    let mx: f32 = -Infinity;
    for (let t = 0; t <= pos; t++) {
      const kt = kbase + (cell0 + <usize>t * kvRow) * esz;
      const w = (fast ? dot_qk_fast(qh, kt, Dh) : dot_qk(qh, kt, Dh, half)) * scale;
      store<f32>(probs + ((<usize>t) << 2), w);
      if (w > mx) mx = w;
    }
    let sum: f64 = 0;
    for (let t = 0; t <= pos; t++) {
      const e = <f32>Math.exp(<f64>(load<f32>(probs + ((<usize>t) << 2)) - mx));
      store<f32>(probs + ((<usize>t) << 2), e);
      sum += <f64>e;
    }
    const inv = <f32>(1.0 / sum);
    const o = out + ((<usize>(u * Dh)) << 2);
    const dst = fast ? acc : o;
    memory.fill(dst, 0, (<usize>Dh) << 2);
    for (let t = 0; t <= pos; t++) {
      let p = load<f32>(probs + ((<usize>t) << 2)) * inv;
      if (roundProbs) p = round_f16(p);
      const vt = vbase + (cell0 + <usize>t * kvRow) * esz;
      if (fast) axpy_v_fast(acc, p * POW2_112, vt, Dh);
      else axpy_v(o, p, vt, Dh, half);
    }
    if (fast) for (let d = 0; d < Dh; d++) store<f32>(o + ((<usize>d) << 2), load<f32>(acc + ((<usize>perm8(d, full)) << 2)));
  }
}
