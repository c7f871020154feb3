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
// One lookup per index on most steps: where a step's two pairs each have |q₀| + |q₁| = B ≤ 127, their low
// tables hold T + B ∈ [0, 254] (biased steps); elsewhere they hold T's low byte. The main loop looks up only low
// bytes (widened unsigned), for every step, without branches; a second, short loop adds 256·(high byte) for the
// steps that are not biased (listed per row), and the biases of the biased steps (prefix sums per row) are
// subtracted: still exact. A swizzle is two instructions on V8 (paddusb + pshufb), so halving the lookups is
// most of the gain; activations are mostly small next to their row maximum, so few steps need the second loop.

// Weight factors of the 9 indices: i = 3·(w₀+1) + (w₁+1) → w₀ = i/3 − 1, w₁ = i%3 − 1 (entries 9..15: 0).
const W0_LO: v128 = i16x8(-1, -1, -1, 0, 0, 0, 1, 1);
const W1_LO: v128 = i16x8(-1, 0, 1, -1, 0, 1, -1, 0);
const W0_HI: v128 = i16x8(1, 0, 0, 0, 0, 0, 0, 0);
const W1_HI: v128 = i16x8(1, 0, 0, 0, 0, 0, 0, 0);

/**
 * Bytes of lookup data per activation row: tables (Kp/2 pairs × 32), the list of unbiased steps (u16, up to
 * Kp/4), their prefix counts and the bias prefix sums (Kp/4 + 1 i32 each).
 */
export function lut_row_bytes(Kp: i32): i32 {
  return (Kp << 4) + (Kp >> 1) + (Kp << 1) + 16;
}

/** Where a row's lookup data keeps the unbiased-step list, its prefix counts and the bias prefix sums. */
@inline function list_at(tab: usize, Kp: i32): usize {
  return tab + (<usize>Kp << 4);
}
@inline function counts_at(tab: usize, Kp: i32): usize {
  return list_at(tab, Kp) + (<usize>Kp >> 1); // i32-aligned: Kp is a multiple of 64
}
@inline function biases_at(tab: usize, Kp: i32): usize {
  return counts_at(tab, Kp) + (<usize>Kp) + 4;
}

/**
 * Per activation row at tables + r·lut_row_bytes(Kp): per pair, 16 low bytes then 16 high bytes of T (entries
 * 9..15 unused) — T + B in the low bytes on a biased step —, then the unbiased steps' indices, then counts[s] =
 * number of unbiased steps before step s and biases[s] = ΣB of the biased steps before s (Kp/4 + 1 values each).
 */
export function ternary_lut_tables(tables: usize, act: usize, Kp: i32, rows: i32): void {
  const steps = Kp >> 2;
  for (let r = 0; r < rows; r++) {
    const a = act + <usize>r * <usize>Kp;
    const t = tables + <usize>r * <usize>lut_row_bytes(Kp);
    const list = list_at(t, Kp), counts = counts_at(t, Kp), biases = biases_at(t, Kp);
    // rows with many large activations take the two-lookup loop for every step (classic_row): no biases then
    let unbiased = 0;
    for (let s = 0; s < steps; s++) if (!step_biased(a, s)) unbiased++;
    const none = unbiased > classic_limit(steps);
    let bias = 0, n = 0;
    store<i32>(counts, 0);
    store<i32>(biases, 0);
    for (let s = 0; s < steps; s++) {
      const q0 = <i32>load<i8>(a + (<usize>s << 2)), q1 = <i32>load<i8>(a + (<usize>s << 2) + 1);
      const q2 = <i32>load<i8>(a + (<usize>s << 2) + 2), q3 = <i32>load<i8>(a + (<usize>s << 2) + 3);
      const biased = !none && step_biased(a, s);
      const b0 = biased ? abs(q0) + abs(q1) : 0, b1 = biased ? abs(q2) + abs(q3) : 0;
      if (biased) {
        bias += b0 + b1;
      } else {
        store<u16>(list + ((<usize>n) << 1), <u16>s);
        n++;
      }
      store<i32>(counts + ((<usize>(s + 1)) << 2), n);
      store<i32>(biases + ((<usize>(s + 1)) << 2), bias);
      table_pair(t + (<usize>s << 6), q0, q1, b0);
      table_pair(t + (<usize>s << 6) + 32, q2, q3, b1);
    }
  }
}

/** Both pairs of step s have |q₀| + |q₁| ≤ 127: T + B fits one byte. */
@inline function step_biased(a: usize, s: i32): bool {
  const p = a + (<usize>s << 2);
  return abs(<i32>load<i8>(p)) + abs(<i32>load<i8>(p + 1)) <= 127 &&
    abs(<i32>load<i8>(p + 2)) + abs(<i32>load<i8>(p + 3)) <= 127;
}

/** Above this many unbiased steps (3/8) the second loop would cost more than two lookups everywhere. */
@inline function classic_limit(steps: i32): i32 {
  return (steps * 3) >> 3;
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

/** i16 partial sums of 16 rows (lo: rows 0–7, hi: rows 8–15) added to the 16 i32 sums at dst. */
@inline function flush16(dst: usize, lo: v128, hi: v128): void {
  v128.store(dst, i32x4.add(v128.load(dst), i32x4.extend_low_i16x8_s(lo)));
  v128.store(dst, i32x4.add(v128.load(dst, 16), i32x4.extend_high_i16x8_s(lo)), 16);
  v128.store(dst, i32x4.add(v128.load(dst, 32), i32x4.extend_low_i16x8_s(hi)), 32);
  v128.store(dst, i32x4.add(v128.load(dst, 48), i32x4.extend_high_i16x8_s(hi)), 48);
}

/** Two lookups (low and high byte of T) per index on every step: rows whose tables hold no biases. */
@inline function classic_dot(ta: usize, tb: usize, tab: usize, g0: i32, g1: i32, dst: usize): void {
  const m4 = i8x16.splat(0x0f);
  let g = g0;
  while (g < g1) {
    const stop = min(g + 64, g1); // |T| ≤ 256: ≤ 512 a step, 32 steps
    let alo = i16x8.splat(0), ahi = i16x8.splat(0), blo = i16x8.splat(0), bhi = i16x8.splat(0);
    for (; g < stop; g += 2) {
      const o = <usize>g << 3;
      const va = v128.load(ta + o);
      const vb = v128.load(tb + o);
      const t = tab + (<usize>g << 5);
      let tl = v128.load(t), th = v128.load(t, 16);
      let ia = v128.and(va, m4), ib = v128.and(vb, m4);
      let l = lookup(tl, ia), h = lookup(th, ia);
      alo = acc_lo(alo, l, h);
      ahi = acc_hi(ahi, l, h);
      l = lookup(tl, ib);
      h = lookup(th, ib);
      blo = acc_lo(blo, l, h);
      bhi = acc_hi(bhi, l, h);
      tl = v128.load(t, 32);
      th = v128.load(t, 48);
      ia = v128.and(i16x8.shr_u(va, 4), m4);
      ib = v128.and(i16x8.shr_u(vb, 4), m4);
      l = lookup(tl, ia);
      h = lookup(th, ia);
      alo = acc_lo(alo, l, h);
      ahi = acc_hi(ahi, l, h);
      l = lookup(tl, ib);
      h = lookup(th, ib);
      blo = acc_lo(blo, l, h);
      bhi = acc_hi(bhi, l, h);
    }
    flush16(dst, alo, ahi);
    flush16(dst + 64, blo, bhi);
  }
}

/** Low bytes of every step for tiles a and b (the main loop): added to the 32 sums at dst. */
@inline function low_pair(ta: usize, tb: usize, tab: usize, g0: i32, g1: i32, dst: usize): void {
  const m4 = i8x16.splat(0x0f);
  const zero = i8x16.splat(0);
  // low bytes of every step: ≤ 255 per pair, 2 pairs a step, flushed every 32 steps (≤ 16320)
  let g = g0;
  while (g < g1) {
    const stop = min(g + 64, g1);
    let alo = i16x8.splat(0), ahi = i16x8.splat(0), blo = i16x8.splat(0), bhi = i16x8.splat(0);
    for (; g < stop; g += 2) {
      const o = <usize>g << 3;
      const va = v128.load(ta + o);
      const vb = v128.load(tb + o);
      const t = tab + (<usize>g << 5);
      let tl = v128.load(t);
      let l = lookup(tl, v128.and(va, m4));
      alo = acc_lo(alo, l, zero);
      ahi = acc_hi(ahi, l, zero);
      l = lookup(tl, v128.and(vb, m4));
      blo = acc_lo(blo, l, zero);
      bhi = acc_hi(bhi, l, zero);
      tl = v128.load(t, 32);
      l = lookup(tl, v128.and(i16x8.shr_u(va, 4), m4));
      alo = acc_lo(alo, l, zero);
      ahi = acc_hi(ahi, l, zero);
      l = lookup(tl, v128.and(i16x8.shr_u(vb, 4), m4));
      blo = acc_lo(blo, l, zero);
      bhi = acc_hi(bhi, l, zero);
    }
    flush16(dst, alo, ahi);
    flush16(dst + 64, blo, bhi);
  }
}

/** The same for four tiles: each table vector feeds four. Adds to the 64 sums at dst. */
@inline function low_quad(ta: usize, tileBytes: usize, tab: usize, g0: i32, g1: i32, dst: usize): void {
  const m4 = i8x16.splat(0x0f);
  const zero = i8x16.splat(0);
  const tb = ta + tileBytes, tc = tb + tileBytes, td = tc + tileBytes;
  let g = g0;
  while (g < g1) {
    const stop = min(g + 64, g1);
    let alo = i16x8.splat(0), ahi = i16x8.splat(0), blo = i16x8.splat(0), bhi = i16x8.splat(0);
    let clo = i16x8.splat(0), chi = i16x8.splat(0), dlo = i16x8.splat(0), dhi = i16x8.splat(0);
    for (; g < stop; g += 2) {
      const o = <usize>g << 3;
      const t = tab + (<usize>g << 5);
      const va = v128.load(ta + o), vb = v128.load(tb + o), vc = v128.load(tc + o), vd = v128.load(td + o);
      let tl = v128.load(t);
      let l = lookup(tl, v128.and(va, m4));
      alo = acc_lo(alo, l, zero);
      ahi = acc_hi(ahi, l, zero);
      l = lookup(tl, v128.and(vb, m4));
      blo = acc_lo(blo, l, zero);
      bhi = acc_hi(bhi, l, zero);
      l = lookup(tl, v128.and(vc, m4));
      clo = acc_lo(clo, l, zero);
      chi = acc_hi(chi, l, zero);
      l = lookup(tl, v128.and(vd, m4));
      dlo = acc_lo(dlo, l, zero);
      dhi = acc_hi(dhi, l, zero);
      tl = v128.load(t, 32);
      l = lookup(tl, v128.and(i16x8.shr_u(va, 4), m4));
      alo = acc_lo(alo, l, zero);
      ahi = acc_hi(ahi, l, zero);
      l = lookup(tl, v128.and(i16x8.shr_u(vb, 4), m4));
      blo = acc_lo(blo, l, zero);
      bhi = acc_hi(bhi, l, zero);
      l = lookup(tl, v128.and(i16x8.shr_u(vc, 4), m4));
      clo = acc_lo(clo, l, zero);
      chi = acc_hi(chi, l, zero);
      l = lookup(tl, v128.and(i16x8.shr_u(vd, 4), m4));
      dlo = acc_lo(dlo, l, zero);
      dhi = acc_hi(dhi, l, zero);
    }
    flush16(dst, alo, ahi);
    flush16(dst + 64, blo, bhi);
    flush16(dst + 128, clo, chi);
    flush16(dst + 192, dlo, dhi);
  }
}

/** 256·(high byte) of the unbiased steps for tiles a and b: added to the 32 sums at dst. */
@inline function high_pair(ta: usize, tb: usize, tab: usize, Kp: i32, g0: i32, g1: i32, dst: usize): void {
  const m4 = i8x16.splat(0x0f);
  const zero = i8x16.splat(0);
  // 256·(high byte) of the unbiased steps: |·| ≤ 512 a step, flushed every 32 steps
  const list = list_at(tab, Kp), counts = counts_at(tab, Kp);
  let k = load<i32>(counts + ((<usize>(g0 >> 1)) << 2));
  const k1 = load<i32>(counts + ((<usize>(g1 >> 1)) << 2));
  while (k < k1) {
    const stop = min(k + 32, k1);
    let alo = i16x8.splat(0), ahi = i16x8.splat(0), blo = i16x8.splat(0), bhi = i16x8.splat(0);
    for (; k < stop; k++) {
      const s = <usize>load<u16>(list + ((<usize>k) << 1));
      const va = v128.load(ta + (s << 4));
      const vb = v128.load(tb + (s << 4));
      const t = tab + (s << 6);
      let th = v128.load(t, 16);
      let h = lookup(th, v128.and(va, m4));
      alo = acc_lo(alo, zero, h);
      ahi = acc_hi(ahi, zero, h);
      h = lookup(th, v128.and(vb, m4));
      blo = acc_lo(blo, zero, h);
      bhi = acc_hi(bhi, zero, h);
      th = v128.load(t, 48);
      h = lookup(th, v128.and(i16x8.shr_u(va, 4), m4));
      alo = acc_lo(alo, zero, h);
      ahi = acc_hi(ahi, zero, h);
      h = lookup(th, v128.and(i16x8.shr_u(vb, 4), m4));
      blo = acc_lo(blo, zero, h);
      bhi = acc_hi(bhi, zero, h);
    }
    flush16(dst, alo, ahi);
    flush16(dst + 64, blo, bhi);
  }
}

/**
 * Sums of `nt` (1, 2 or 4) consecutive tiles against one activation row over pairs [g0, g1) (a multiple of 2
 * apart): 16·nt i32 values at `dst`, rows in order. `tab`: the row's lookup data (ternary_lut_tables). Several
 * tiles share each table load and the loop overhead.
 */
@inline function tiles_dot_simd(tile: usize, tileBytes: usize, nt: i32, tab: usize, Kp: i32, g0: i32, g1: i32,
  dst: usize): void {
  const ta = tile, tb = tile + (nt >= 2 ? tileBytes : 0); // one tile: tile b repeats tile a, its sums unused
  const c = i32x4.splat(-(load<i32>(biases_at(tab, Kp) + ((<usize>(g1 >> 1)) << 2)) -
    load<i32>(biases_at(tab, Kp) + ((<usize>(g0 >> 1)) << 2))));
  for (let i = 0; i < 16; i++) v128.store(dst + (<usize>i << 4), c);
  const steps = Kp >> 2;
  const tc = tile + 2 * tileBytes, td = tile + 3 * tileBytes;
  if (load<i32>(counts_at(tab, Kp) + (<usize>steps << 2)) > classic_limit(steps)) {
    classic_dot(ta, tb, tab, g0, g1, dst);
    if (nt == 4) classic_dot(tc, td, tab, g0, g1, dst + 128);
    return;
  }
  if (nt == 4) low_quad(ta, tileBytes, tab, g0, g1, dst);
  else low_pair(ta, tb, tab, g0, g1, dst);
  high_pair(ta, tb, tab, Kp, g0, g1, dst);
  if (nt == 4) high_pair(tc, td, tab, Kp, g0, g1, dst + 128);
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
    tiles_dot_simd(tile, tileBytes, nt, tab, Kp, c0 >> 1, c1 >> 1, dst);
  }
}

/** Tiles per step from t: two while both lie in [t, t1) (the scalar twin takes them one at a time too). */
@inline function tiles_at(t: i32, t1: i32): i32 {
  return t + 3 < t1 ? 4 : t + 1 < t1 ? 2 : 1;
}

/** out i32 [rows, N, G] for tiles [t0, t1): G = 1 (whole row) or Kp/256 groups. `tmp`: 256 bytes per thread. */
export function ternary_lut_acc(out: usize, w: usize, act: usize, tables: usize, Kp: i32, G: i32, N: i32, rows: i32,
  scalar: bool, tmp: usize, tid: i32, t0: i32, t1: i32): void {
  const dst = tmp + (<usize>tid << 8);
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
  const dst = tmp + (<usize>tid << 8);
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
  const dst = tmp + (<usize>tid << 8);
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
