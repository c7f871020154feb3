// Activation quantization (W1.58A8), bit-exact with packages/core/src/reference/kernels/quantize-acts.ts.

/** Saturating f32x4 ×4 → i8x16 after round-half-even (f32x4.nearest): the clamp to [−128, 127] is the narrowing. */
@inline function quant16(x: usize, s: v128): v128 {
  const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(x), s)));
  const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(x, 16), s)));
  const c = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(x, 32), s)));
  const d = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(x, 48), s)));
  return i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d));
}

/** per_token: s = f32(127 / max(max|x|, 1e-5)) (division in f64), q = clamp(roundHalfEven(f32(x·s))). */
export function quantize_per_token(q: usize, scales: usize, x: usize, K: i32, rows: i32, scalar: bool): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * <usize>K) << 2);
    const qr = q + <usize>r * <usize>K;
    let k = 0;
    let vmax = f32x4.splat(0);
    if (!scalar) for (; k + 4 <= K; k += 4) vmax = f32x4.max(vmax, f32x4.abs(v128.load(xr + ((<usize>k) << 2))));
    let m = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)),
      max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
    for (; k < K; k++) m = max(m, abs(load<f32>(xr + ((<usize>k) << 2))));
    const s = <f32>(127.0 / max(<f64>m, 1e-5));
    store<f32>(scales + ((<usize>r) << 2), s);
    k = 0;
    if (!scalar) {
      const vs = f32x4.splat(s);
      for (; k + 16 <= K; k += 16) v128.store(qr + k, quant16(xr + ((<usize>k) << 2), vs));
    }
    for (; k < K; k++) {
      const v = nearest(load<f32>(xr + ((<usize>k) << 2)) * s);
      store<i8>(qr + k, <i8>(<i32>max(<f32>-128, min(<f32>127, v))));
    }
  }
}

/**
 * per_block256 (Q8_K): per 256 values, m = the first value of largest magnitude (signed), iscale = f32(−127/m),
 * q = min(127, roundHalfEven(f32(iscale·x))), d = f32(1/iscale); an all-zero block gets d = 0, q = 0.
 */
export function quantize_per_block256(q: usize, scales: usize, x: usize, K: i32, rows: i32, scalar: bool): void {
  const G = K >> 8;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < G; g++) {
      const base = r * K + g * 256;
      const xb = x + ((<usize>base) << 2);
      const qb = q + <usize>base;
      let amax: f32 = 0;
      let m: f32 = 0;
      for (let j = 0; j < 256; j++) {
        const v = load<f32>(xb + ((<usize>j) << 2));
        if (abs(v) > amax) {
          amax = abs(v);
          m = v;
        }
      }
      const so = scales + ((<usize>(r * G + g)) << 2);
      if (amax == 0) {
        store<f32>(so, 0);
        memory.fill(qb, 0, 256);
        continue;
      }
      const iscale = <f32>(-127.0 / <f64>m);
      let j = 0;
      if (!scalar) {
        // |iscale·x| ≤ 127 up to rounding, so the saturating narrow only ever applies min(127, ·)
        const vs = f32x4.splat(iscale);
        for (; j < 256; j += 16) v128.store(qb + j, quant16(xb + ((<usize>j) << 2), vs));
      }
      for (; j < 256; j++) store<i8>(qb + j, <i8>(<i32>min(<f32>127, nearest(iscale * load<f32>(xb + ((<usize>j) << 2))))));
      store<f32>(so, <f32>(1.0 / <f64>iscale));
    }
  }
}
