// Ternary × int8 products by table lookup (the T-MAC / bitnet.cpp TL1 idea, kept exact), for plain SIMD128.
//
// Layout "lut16": rows in tiles of 16 (N padded to a multiple of 16 with zero weights); columns in pairs
// (2g, 2g+1) whose two weights form one index i = 3·(w₀+1) + (w₁+1) ∈ 0..8 (4 bits, 2 bits per weight). A tile
// stores, for each 4 columns p (pairs 2p and 2p+1), 16 bytes: byte r holds row r's index of pair 2p in bits 0–3
// and of pair 2p+1 in bits 4–7. Worked byte: row r, columns 4p..4p+3 = (+1, −1, 0, +1) → pair 2p = 3·2 + 0 = 6,
// pair 2p+1 = 3·1 + 2 = 5 → 0x56.
//
// For an activation row, ternary_lut_tables builds per pair g the 9 possible partial sums
// T_g[i] = q[2g]·(i/3 − 1) + q[2g+1]·(i%3 − 1) ∈ [−256, 254], split into a low-byte and a high-byte table of 16.
// One i8x16.swizzle per byte table then yields the partial sums of 16 rows at once; interleaving the bytes gives
// i16 sums. No multiplies.
//
// Biased steps: where a step's two pairs both have |q₀| + |q₁| = B ≤ 127, their tables hold T + B ∈ [0, 254]
// instead (one byte: the high-byte lookup and half the interleaving go away, the most expensive part on V8,
// whose swizzle is two instructions); a flag per step says which, and a prefix sum of the biases per row
// (ΣB over the biased steps before s) is subtracted from the sums: still exact. Activations are mostly small
// next to their row maximum, so most steps take the short path.

// Weight factors of the 9 indices: i = 3·(w₀+1) + (w₁+1) → w₀ = i/3 − 1, w₁ = i%3 − 1 (entries 9..15: 0).
const W0_LO: v128 = i16x8(-1, -1, -1, 0, 0, 0, 1, 1);
const W1_LO: v128 = i16x8(-1, 0, 1, -1, 0, 1, -1, 0);
const W0_HI: v128 = i16x8(1, 0, 0, 0, 0, 0, 0, 0);
const W1_HI: v128 = i16x8(1, 0, 0, 0, 0, 0, 0, 0);

/** Bytes of lookup data per activation row: tables (Kp/2 pairs × 32), step flags (Kp/4), bias prefix (Kp/4 + 1 i32). */
export function lut_row_bytes(Kp: i32): i32 {
  return (Kp << 4) + (Kp << 1) + 16;
}

/**
 * Per activation row at tables + r·lut_row_bytes(Kp): per pair, the 16 low bytes then the 16 high bytes of T
 * (entries 9..15 unused) — or T + B in the low bytes on a biased step —, then one flag byte per step of 2 pairs
 * (1 = biased), then the i32 prefix sums of the biases (Kp/4 + 1 values, the first 0).
 */
export function ternary_lut_tables(tables: usize, act: usize, Kp: i32, rows: i32): void {
  const pairs = Kp >> 1;
  const steps = Kp >> 2;
  for (let r = 0; r < rows; r++) {
    const a = act + <usize>r * <usize>Kp;
    const t = tables + <usize>r * <usize>lut_row_bytes(Kp);
    const flags = t + (<usize>pairs << 5);
    const prefix = flags + <usize>Kp; // Kp ≥ steps bytes: i32-aligned (Kp is a multiple of 64)
    let bias = 0;
    store<i32>(prefix, 0);
    for (let s = 0; s < steps; s++) {
      const q0 = <i32>load<i8>(a + (<usize>s << 2)), q1 = <i32>load<i8>(a + (<usize>s << 2) + 1);
      const q2 = <i32>load<i8>(a + (<usize>s << 2) + 2), q3 = <i32>load<i8>(a + (<usize>s << 2) + 3);
      const b0 = abs(q0) + abs(q1), b1 = abs(q2) + abs(q3);
      const biased = b0 <= 127 && b1 <= 127;
      store<u8>(flags + s, biased ? 1 : 0);
      if (biased) bias += b0 + b1;
      store<i32>(prefix + ((<usize>(s + 1)) << 2), bias);
      table_pair(t + (<usize>s << 6), q0, q1, biased ? b0 : 0);
      table_pair(t + (<usize>s << 6) + 32, q2, q3, biased ? b1 : 0);
    }
  }
}

/** One pair's 32 bytes: T[i] + bias split into low and high bytes. */
@inline function table_pair(o: usize, q0v: i32, q1v: i32, bias: i32): void {
  const q0 = i16x8.splat(<i16>q0v);
  const q1 = i16x8.splat(<i16>q1v);
  const b = i16x8.splat(<i16>bias);
  const e0 = i16x8.add(i16x8.add(i16x8.mul(q0, W0_LO), i16x8.mul(q1, W1_LO)), b); // entries 0..7
  const e1 = i16x8.add(i16x8.add(i16x8.mul(q0, W0_HI), i16x8.mul(q1, W1_HI)), b); // entries 8..15
  v128.store(o, i8x16.shuffle(e0, e1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
  v128.store(o, i8x16.shuffle(e0, e1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), 16);
}

/** Table lookup; indices are always < 16, so relaxed swizzle (a single pshufb on x86) is deterministic here. */
@inline function lookup(table: v128, idx: v128): v128 {
  return ASC_FEATURE_RELAXED_SIMD ? i8x16.relaxed_swizzle(table, idx) : i8x16.swizzle(table, idx);
}

@inline function acc_lo(acc: v128, l: v128, h: v128): v128 {
  return i16x8.add(acc, i8x16.shuffle(l, h, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
}
@inline function acc_hi(acc: v128, l: v128, h: v128): v128 {
  return i16x8.add(acc, i8x16.shuffle(l, h, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31));
}

/**
 * Accumulators of one tile (16 rows) against one activation row over pairs [g0, g1) (a multiple of 2 apart):
 * writes 16 i32 sums to `dst` (rows of the tile in order). `tab`: the row's lookup data (ternary_lut_tables).
 */
@inline function tile_dot_simd(tile: usize, tab: usize, Kp: i32, g0: i32, g1: i32, dst: usize): void {
  const m4 = i8x16.splat(0x0f);
  const zero = i8x16.splat(0);
  const flags = tab + ((<usize>Kp >> 1) << 5);
  let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
  let g = g0;
  while (g < g1) {
    // i16 partial sums: each lane gains ≤ 508 per step of 2 pairs; widen every 64 pairs (≤ 16256)
    const stop = min(g + 64, g1);
    let lo = i16x8.splat(0), hi = i16x8.splat(0);
    for (; g < stop; g += 2) {
      const v = v128.load(tile + (<usize>g << 3)); // 16 bytes per 2 pairs
      const ia = v128.and(v, m4);
      const ib = v128.and(i16x8.shr_u(v, 4), m4); // one psrlw + the mask already in a register
      const ta = tab + (<usize>g << 5);
      if (load<u8>(flags + (g >> 1))) {
        const la = lookup(v128.load(ta), ia);
        const lb = lookup(v128.load(ta, 32), ib);
        lo = acc_lo(lo, la, zero);
        hi = acc_hi(hi, la, zero);
        lo = acc_lo(lo, lb, zero);
        hi = acc_hi(hi, lb, zero);
      } else {
        const la = lookup(v128.load(ta), ia);
        const ha = lookup(v128.load(ta, 16), ia);
        const lb = lookup(v128.load(ta, 32), ib);
        const hb = lookup(v128.load(ta, 48), ib);
        lo = acc_lo(lo, la, ha);
        hi = acc_hi(hi, la, ha);
        lo = acc_lo(lo, lb, hb);
        hi = acc_hi(hi, lb, hb);
      }
    }
    s0 = i32x4.add(s0, i32x4.extend_low_i16x8_s(lo));
    s1 = i32x4.add(s1, i32x4.extend_high_i16x8_s(lo));
    s2 = i32x4.add(s2, i32x4.extend_low_i16x8_s(hi));
    s3 = i32x4.add(s3, i32x4.extend_high_i16x8_s(hi));
  }
  const c = i32x4.splat(bias_between(flags, Kp, g0, g1));
  v128.store(dst, i32x4.sub(s0, c));
  v128.store(dst, i32x4.sub(s1, c), 16);
  v128.store(dst, i32x4.sub(s2, c), 32);
  v128.store(dst, i32x4.sub(s3, c), 48);
}

/** Σ of the biases of the biased steps among pairs [g0, g1). */
@inline function bias_between(flags: usize, Kp: i32, g0: i32, g1: i32): i32 {
  const prefix = flags + <usize>Kp;
  return load<i32>(prefix + ((<usize>(g1 >> 1)) << 2)) - load<i32>(prefix + ((<usize>(g0 >> 1)) << 2));
}

/**
 * Two tiles (32 rows) against one activation row, as tile_dot_simd: each table vector is loaded once for both
 * tiles and the loop overhead is shared. Writes 32 i32 sums to `dst` (tile a's 16 rows, then tile b's).
 */
@inline function tile_dot2_simd(ta: usize, tb: usize, tab: usize, Kp: i32, g0: i32, g1: i32, dst: usize): void {
  const m4 = i8x16.splat(0x0f);
  const zero = i8x16.splat(0);
  const flags = tab + ((<usize>Kp >> 1) << 5);
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
  let b0 = i32x4.splat(0), b1 = i32x4.splat(0), b2 = i32x4.splat(0), b3 = i32x4.splat(0);
  let g = g0;
  while (g < g1) {
    const stop = min(g + 64, g1); // i16 lanes: ≤ 508 per step, 32 steps
    let alo = i16x8.splat(0), ahi = i16x8.splat(0), blo = i16x8.splat(0), bhi = i16x8.splat(0);
    for (; g < stop; g += 2) {
      const o = <usize>g << 3;
      const va = v128.load(ta + o);
      const vb = v128.load(tb + o);
      const t = tab + (<usize>g << 5);
      let ia = v128.and(va, m4), ib = v128.and(vb, m4);
      if (load<u8>(flags + (g >> 1))) {
        // biased step: one byte per row and pair, widened unsigned
        let tl = v128.load(t);
        let l = lookup(tl, ia);
        alo = acc_lo(alo, l, zero);
        ahi = acc_hi(ahi, l, zero);
        l = lookup(tl, ib);
        blo = acc_lo(blo, l, zero);
        bhi = acc_hi(bhi, l, zero);
        tl = v128.load(t, 32);
        ia = v128.and(i16x8.shr_u(va, 4), m4);
        ib = v128.and(i16x8.shr_u(vb, 4), m4);
        l = lookup(tl, ia);
        alo = acc_lo(alo, l, zero);
        ahi = acc_hi(ahi, l, zero);
        l = lookup(tl, ib);
        blo = acc_lo(blo, l, zero);
        bhi = acc_hi(bhi, l, zero);
      } else {
        let tl = v128.load(t), th = v128.load(t, 16);
        let l = lookup(tl, ia), h = lookup(th, ia);
        alo = acc_lo(alo, l, h);
        ahi = acc_hi(ahi, l, h);
        l = lookup(tl, ib); h = lookup(th, ib);
        blo = acc_lo(blo, l, h);
        bhi = acc_hi(bhi, l, h);
        tl = v128.load(t, 32); th = v128.load(t, 48);
        ia = v128.and(i16x8.shr_u(va, 4), m4);
        ib = v128.and(i16x8.shr_u(vb, 4), m4);
        l = lookup(tl, ia); h = lookup(th, ia);
        alo = acc_lo(alo, l, h);
        ahi = acc_hi(ahi, l, h);
        l = lookup(tl, ib); h = lookup(th, ib);
        blo = acc_lo(blo, l, h);
        bhi = acc_hi(bhi, l, h);
      }
    }
    a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(alo));
    a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(alo));
    a2 = i32x4.add(a2, i32x4.extend_low_i16x8_s(ahi));
    a3 = i32x4.add(a3, i32x4.extend_high_i16x8_s(ahi));
    b0 = i32x4.add(b0, i32x4.extend_low_i16x8_s(blo));
    b1 = i32x4.add(b1, i32x4.extend_high_i16x8_s(blo));
    b2 = i32x4.add(b2, i32x4.extend_low_i16x8_s(bhi));
    b3 = i32x4.add(b3, i32x4.extend_high_i16x8_s(bhi));
  }
  const c = i32x4.splat(bias_between(flags, Kp, g0, g1));
  v128.store(dst, i32x4.sub(a0, c));
  v128.store(dst, i32x4.sub(a1, c), 16);
  v128.store(dst, i32x4.sub(a2, c), 32);
  v128.store(dst, i32x4.sub(a3, c), 48);
  v128.store(dst, i32x4.sub(b0, c), 64);
  v128.store(dst, i32x4.sub(b1, c), 80);
  v128.store(dst, i32x4.sub(b2, c), 96);
  v128.store(dst, i32x4.sub(b3, c), 112);
}

/** The readable scalar twin: decode each index back to two weights and multiply. */
function tile_dot_scalar(tile: usize, act: usize, g0: i32, g1: i32, dst: usize): void {
  for (let r = 0; r < 16; r++) {
    let s = 0;
    for (let g = g0; g < g1; g++) {
      const byte = <i32>load<u8>(tile + (<usize>(g >> 1) << 4) + r);
      const idx = (g & 1) == 0 ? byte & 15 : byte >> 4;
      s += (idx / 3 - 1) * <i32>load<i8>(act + (<usize>g << 1)) + (idx % 3 - 1) * <i32>load<i8>(act + (<usize>g << 1) + 1);
    }
    store<i32>(dst + (<usize>r << 2), s);
  }
}

/**
 * Sums of tiles t (and t + 1 when nt = 2) for activation row r over column groups [c0, c1) (multiples of 4):
 * 16·nt i32 values at dst.
 */
@inline function tile_dot(scalar: bool, w: usize, Kp: i32, t: i32, nt: i32, act: usize, tables: usize, r: i32,
  c0: i32, c1: i32, dst: usize): void {
  const tileBytes = <usize>Kp << 2;
  const tile = w + <usize>t * tileBytes;
  if (scalar) {
    for (let k = 0; k < nt; k++) {
      tile_dot_scalar(tile + <usize>k * tileBytes, act + <usize>r * <usize>Kp, c0 >> 1, c1 >> 1, dst + (<usize>k << 6));
    }
  } else {
    const tab = tables + <usize>r * <usize>lut_row_bytes(Kp);
    if (nt == 2) tile_dot2_simd(tile, tile + tileBytes, tab, Kp, c0 >> 1, c1 >> 1, dst);
    else tile_dot_simd(tile, tab, Kp, c0 >> 1, c1 >> 1, dst);
  }
}

/** Tiles per step from t: two while both lie in [t, t1) (the scalar twin takes them one at a time too). */
@inline function tiles_at(t: i32, t1: i32): i32 {
  return t + 1 < t1 ? 2 : 1;
}

/** out i32 [rows, N, G] for tiles [t0, t1): G = 1 (whole row) or Kp/256 groups. `tmp`: 128 bytes per thread. */
export function ternary_lut_acc(out: usize, w: usize, act: usize, tables: usize, Kp: i32, G: i32, N: i32, rows: i32,
  scalar: bool, tmp: usize, tid: i32, t0: i32, t1: i32): void {
  const dst = tmp + (<usize>tid << 7);
  const span = Kp / G;
  for (let t = t0; t < t1; ) {
    const nt = tiles_at(t, t1);
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < G; g++) {
        tile_dot(scalar, w, Kp, t, nt, act, tables, r, g * span, (g + 1) * span, dst);
        for (let i = 0; i < 16 * nt; i++) {
          const n = t * 16 + i;
          if (n < N) store<i32>(out + ((<usize>((r * N + n) * G + g)) << 2), load<i32>(dst + (<usize>i << 2)));
        }
      }
    }
    t += nt;
  }
}

/** per_token epilogue over tiles: out[r, n] = f32(f32(acc / s_r) · w_scale(n, 0)). */
export function ternary_lut_per_token(out: usize, w: usize, act: usize, tables: usize, ascales: usize, wscales: usize,
  wGroups: i32, Kp: i32, N: i32, rows: i32, scalar: bool, tmp: usize, tid: i32, t0: i32, t1: i32): void {
  const dst = tmp + (<usize>tid << 7);
  for (let t = t0; t < t1; ) {
    const nt = tiles_at(t, t1);
    for (let r = 0; r < rows; r++) {
      tile_dot(scalar, w, Kp, t, nt, act, tables, r, 0, Kp, dst);
      const s = load<f32>(ascales + ((<usize>r) << 2));
      for (let i = 0; i < 16 * nt; i++) {
        const n = t * 16 + i;
        if (n >= N) break;
        const ws = load<f32>(wscales + ((<usize>(n * wGroups)) << 2));
        store<f32>(out + ((<usize>(r * N + n)) << 2), (<f32>load<i32>(dst + (<usize>i << 2)) / s) * ws);
      }
    }
    t += nt;
  }
}

/** per_block256 epilogue over tiles: out[r, n] = Σ_g f32(acc_g · f32(d_w(n,g) · d_a(r,g))), in order. */
export function ternary_lut_per_block(out: usize, w: usize, act: usize, tables: usize, ascales: usize, wscales: usize,
  wGroups: i32, Kp: i32, N: i32, rows: i32, scalar: bool, tmp: usize, tid: i32, t0: i32, t1: i32): void {
  const dst = tmp + (<usize>tid << 7);
  const G = Kp >> 8;
  for (let t = t0; t < t1; ) {
    const nt = tiles_at(t, t1);
    const n0 = t * 16;
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < 16 * nt && n0 + i < N; i++) store<f32>(out + ((<usize>(r * N + n0 + i)) << 2), 0);
      for (let g = 0; g < G; g++) {
        tile_dot(scalar, w, Kp, t, nt, act, tables, r, g * 256, g * 256 + 256, dst);
        const da = load<f32>(ascales + ((<usize>(r * G + g)) << 2));
        for (let i = 0; i < 16 * nt; i++) {
          const n = n0 + i;
          if (n >= N) break;
          const dw = load<f32>(wscales + ((<usize>(wGroups == 0 ? 0 : n * wGroups + g)) << 2));
          const o = out + ((<usize>(r * N + n)) << 2);
          store<f32>(o, load<f32>(o) + <f32>load<i32>(dst + (<usize>i << 2)) * (dw * da));
        }
      }
    }
    t += nt;
  }
}
