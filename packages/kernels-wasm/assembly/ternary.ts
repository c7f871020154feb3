// Ternary × int8 matrix products (BitLinear), exact in integers.
//
// Weight layout "w2x64" (our own; the host repacks every file format into it, see src/ternary-pack.ts):
//   2 bits per weight, code c = w + 1 ∈ {0,1,2}; each row padded to Kp = ceil(K/64)·64 columns (pad code 1 = 0);
//   a row is Kp/64 blocks of 16 bytes; byte m of block b holds the codes of columns 64b+m, 64b+16+m, 64b+32+m,
//   64b+48+m in bits 0–1, 2–3, 4–5, 6–7 (least significant first).
//   Worked byte: columns (m, 16+m, 32+m, 48+m) = (+1, 0, −1, +1) → codes (2, 1, 0, 2) → 0b10_00_01_10 = 0x86.
// The SIMD kernels sum c·q and subtract Σq, which equals Σ w·q exactly.

const M3: v128 = i8x16.splat(3);

/**
 * Σ_{k in blocks [b0,b1)} c[k]·q[k] (codes 0..2) with SIMD128. Plain SIMD widens both sides to i16 and uses
 * i32x4.dot_i16x8_s (one pmaddwd per 8 products): a block's 16 code bytes zero-extend into two i16x8 vectors whose
 * lane m holds the byte of columns m, m+16, m+32, m+48, so shifting by 2j and masking yields the codes of 8
 * contiguous columns; `a16` is the activation row widened to i16 by ternary_prepare. Relaxed SIMD instead multiplies
 * i8 activations by the 7-bit codes directly (validated at load, see src/detect.ts).
 */
@inline function dot_codes_simd(wrow: usize, arow: usize, a16: usize, b0: i32, b1: i32): i32 {
  let acc0 = i32x4.splat(0);
  let acc1 = i32x4.splat(0);
  if (ASC_FEATURE_RELAXED_SIMD) {
    for (let b = b0; b < b1; b++) {
      const wv = v128.load(wrow + ((<usize>b) << 4));
      const a = arow + ((<usize>b) << 6);
      acc0 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(a), v128.and(wv, M3), acc0);
      acc1 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(a, 16), v128.and(i8x16.shr_u(wv, 2), M3), acc1);
      acc0 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(a, 32), v128.and(i8x16.shr_u(wv, 4), M3), acc0);
      acc1 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(a, 48), i8x16.shr_u(wv, 6), acc1);
    }
  } else {
    const m3 = i16x8.splat(3);
    for (let b = b0; b < b1; b++) {
      const wv = v128.load(wrow + ((<usize>b) << 4));
      const lo = i16x8.extend_low_i8x16_u(wv);
      const hi = i16x8.extend_high_i8x16_u(wv);
      const a = a16 + ((<usize>b) << 7);
      acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(v128.and(lo, m3), v128.load(a)));
      acc1 = i32x4.add(acc1, i32x4.dot_i16x8_s(v128.and(hi, m3), v128.load(a, 16)));
      acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(lo, 2), m3), v128.load(a, 32)));
      acc1 = i32x4.add(acc1, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(hi, 2), m3), v128.load(a, 48)));
      acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(lo, 4), m3), v128.load(a, 64)));
      acc1 = i32x4.add(acc1, i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(hi, 4), m3), v128.load(a, 80)));
      acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(i16x8.shr_u(lo, 6), v128.load(a, 96)));
      acc1 = i32x4.add(acc1, i32x4.dot_i16x8_s(i16x8.shr_u(hi, 6), v128.load(a, 112)));
    }
  }
  const acc = i32x4.add(acc0, acc1);
  return i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
}

/** The readable scalar twin: Σ w·q over blocks [b0,b1), decoding each 2-bit code to w = c − 1. */
function dot_scalar(wrow: usize, arow: usize, b0: i32, b1: i32): i32 {
  let acc = 0;
  for (let b = b0; b < b1; b++) {
    for (let m = 0; m < 16; m++) {
      const byte = <i32>load<u8>(wrow + ((<usize>b) << 4) + m);
      for (let j = 0; j < 4; j++) {
        const w = ((byte >> (2 * j)) & 3) - 1;
        acc += w * <i32>load<i8>(arow + ((<usize>b) << 6) + 16 * j + m);
      }
    }
  }
  return acc;
}

/** Σ w·q of one (weight row, activation row, block range); `sum` is Σq over the same columns. */
@inline function dot(scalar: bool, wrow: usize, arow: usize, a16: usize, b0: i32, b1: i32, sum: i32): i32 {
  return scalar ? dot_scalar(wrow, arow, b0, b1) : dot_codes_simd(wrow, arow, a16, b0, b1) - sum;
}

/**
 * Copy activation rows q [rows, K] into act [rows, Kp] with zero padding (skipped when copy = 0, i.e. K = Kp),
 * widen them to i16 into a16 [rows, Kp] (plain SIMD only), and write sums[r, g] = Σ q over group g (G groups of
 * Kp/G columns).
 */
export function ternary_prepare(act: usize, a16: usize, sums: usize, q: usize, K: i32, Kp: i32, G: i32, rows: i32,
  copy: bool): void {
  for (let r = 0; r < rows; r++) {
    const src = q + <usize>r * <usize>K;
    const dst = copy ? act + <usize>r * <usize>Kp : src;
    if (copy) {
      memory.copy(dst, src, <usize>K);
      memory.fill(dst + <usize>K, 0, <usize>(Kp - K));
    }
    if (!ASC_FEATURE_RELAXED_SIMD) {
      const d16 = a16 + ((<usize>r * <usize>Kp) << 1);
      for (let k = 0; k < Kp; k += 16) {
        const v = v128.load(dst + <usize>k);
        v128.store(d16 + ((<usize>k) << 1), i16x8.extend_low_i8x16_s(v));
        v128.store(d16 + ((<usize>k) << 1), i16x8.extend_high_i8x16_s(v), 16);
      }
    }
    const span = Kp / G;
    for (let g = 0; g < G; g++) {
      let s = 0;
      const base = dst + <usize>(g * span);
      for (let k = 0; k < span; k++) s += <i32>load<i8>(base + k);
      store<i32>(sums + ((<usize>(r * G + g)) << 2), s);
    }
  }
}

/** out i32 [rows, N, G] for output rows [n0, n1): the raw accumulators. (tid, n0, n1) close every parallel kernel. */
export function ternary_acc(
  out: usize, w: usize, act: usize, a16: usize, sums: usize, Kp: i32, G: i32, N: i32, rows: i32, scalar: bool,
  tid: i32, n0: i32, n1: i32,
): void {
  const rowBytes = <usize>(Kp >> 2);
  const bpg = (Kp >> 6) / G;
  for (let n = n0; n < n1; n++) {
    const wrow = w + <usize>n * rowBytes;
    for (let r = 0; r < rows; r++) {
      const arow = act + <usize>r * <usize>Kp;
      for (let g = 0; g < G; g++) {
        const s = load<i32>(sums + ((<usize>(r * G + g)) << 2));
        const a16row = a16 + ((<usize>r * <usize>Kp) << 1);
        store<i32>(out + ((<usize>((r * N + n) * G + g)) << 2), dot(scalar, wrow, arow, a16row, g * bpg, (g + 1) * bpg, s));
      }
    }
  }
}

/**
 * per_token epilogue (bitnet.cpp): out[r, n] = f32(f32(acc / s_r) · w_scale(n, 0)). `wGroups` is 0 for a
 * per-tensor weight scale, else the number of 256-column scale blocks per row.
 */
export function ternary_matmul_per_token(
  out: usize, w: usize, act: usize, a16: usize, sums: usize, ascales: usize, wscales: usize, wGroups: i32,
  Kp: i32, N: i32, rows: i32, scalar: bool, tid: i32, n0: i32, n1: i32,
): void {
  const rowBytes = <usize>(Kp >> 2);
  const nb = Kp >> 6;
  for (let n = n0; n < n1; n++) {
    const wrow = w + <usize>n * rowBytes;
    const ws = load<f32>(wscales + ((<usize>(n * wGroups)) << 2));
    for (let r = 0; r < rows; r++) {
      const acc = dot(scalar, wrow, act + <usize>r * <usize>Kp, a16 + ((<usize>r * <usize>Kp) << 1), 0, nb,
        load<i32>(sums + ((<usize>r) << 2)));
      const s = load<f32>(ascales + ((<usize>r) << 2));
      store<f32>(out + ((<usize>(r * N + n)) << 2), (<f32>acc / s) * ws);
    }
  }
}

/** per_block256 epilogue (ggml TQ × Q8_K): out[r, n] = Σ_g f32(acc_g · f32(d_w(n,g) · d_a(r,g))), in f32, in order. */
export function ternary_matmul_per_block(
  out: usize, w: usize, act: usize, a16: usize, sums: usize, ascales: usize, wscales: usize, wGroups: i32,
  Kp: i32, N: i32, rows: i32, scalar: bool, tid: i32, n0: i32, n1: i32,
): void {
  const rowBytes = <usize>(Kp >> 2);
  const G = Kp >> 8;
  for (let n = n0; n < n1; n++) {
    const wrow = w + <usize>n * rowBytes;
    for (let r = 0; r < rows; r++) {
      const arow = act + <usize>r * <usize>Kp;
      const a16row = a16 + ((<usize>r * <usize>Kp) << 1);
      let y: f32 = 0;
      for (let g = 0; g < G; g++) {
        const s = load<i32>(sums + ((<usize>(r * G + g)) << 2));
        const acc = dot(scalar, wrow, arow, a16row, g * 4, g * 4 + 4, s);
        const dw = load<f32>(wscales + ((<usize>(wGroups == 0 ? 0 : n * wGroups + g)) << 2));
        const da = load<f32>(ascales + ((<usize>(r * G + g)) << 2));
        y += <f32>acc * (dw * da);
      }
      store<f32>(out + ((<usize>(r * N + n)) << 2), y);
    }
  }
}
