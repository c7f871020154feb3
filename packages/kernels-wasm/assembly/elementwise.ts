// Row-wise float ops: embedding, rmsNorm, add, gatedActivation, rope, argmax. Bit-exact with the reference
// kernels except where the reference sums in f64 in a different order (rmsNorm's Σx², still f64 here).
import { f16_to_f32, h2f } from './f16';

/** out[i,:] = f32(table[ids[i],:]) for an f16 table. */
export function embedding_f16(out: usize, table: usize, D: i32, ids: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const src = table + ((<usize>load<i32>(ids + ((<usize>i) << 2)) * <usize>D) << 1);
    const dst = out + ((<usize>i * <usize>D) << 2);
    let d = 0;
    for (; d + 8 <= D; d += 8) {
      const v = v128.load(src + ((<usize>d) << 1));
      v128.store(dst + ((<usize>d) << 2), h2f(i32x4.extend_low_i16x8_u(v)));
      v128.store(dst + ((<usize>d) << 2), h2f(i32x4.extend_high_i16x8_u(v)), 16);
    }
    for (; d < D; d++) store<f32>(dst + ((<usize>d) << 2), f16_to_f32(load<u16>(src + ((<usize>d) << 1))));
  }
}

export function embedding_f32(out: usize, table: usize, D: i32, ids: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const src = table + ((<usize>load<i32>(ids + ((<usize>i) << 2)) * <usize>D) << 2);
    memory.copy(out + ((<usize>i * <usize>D) << 2), src, (<usize>D) << 2);
  }
}

/** q8 table: out = f32(q · rowScale). */
export function embedding_q8(out: usize, table: usize, scales: usize, D: i32, ids: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const id = load<i32>(ids + ((<usize>i) << 2));
    const src = table + <usize>id * <usize>D;
    const s = load<f32>(scales + ((<usize>id) << 2));
    const dst = out + ((<usize>i * <usize>D) << 2);
    for (let d = 0; d < D; d++) store<f32>(dst + ((<usize>d) << 2), <f32>load<i8>(src + d) * s);
  }
}

/** out = x / sqrt(mean(x²) + eps) · w per row: squares in f32 summed in f64; mean, 1/sqrt, products in f32. */
export function rms_norm(out: usize, x: usize, w: usize, eps: f64, D: i32, rows: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * <usize>D) << 2);
    const or = out + ((<usize>r * <usize>D) << 2);
    let acc = f64x2.splat(0);
    let d = 0;
    for (; d + 4 <= D; d += 4) {
      const v = v128.load(xr + ((<usize>d) << 2));
      const sq = f32x4.mul(v, v);
      acc = f64x2.add(acc, f64x2.add(f64x2.promote_low_f32x4(sq), f64x2.promote_low_f32x4(i8x16.shuffle(sq, sq, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7))));
    }
    let sum = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
    for (; d < D; d++) {
      const v = load<f32>(xr + ((<usize>d) << 2));
      sum += <f64>(v * v);
    }
    const mean = <f32>(sum / <f64>D);
    const scale = <f32>1 / sqrt<f32>(<f32>(<f64>mean + eps));
    const vs = f32x4.splat(scale);
    d = 0;
    for (; d + 4 <= D; d += 4) {
      const o = (<usize>d) << 2;
      v128.store(or + o, f32x4.mul(f32x4.mul(v128.load(xr + o), vs), v128.load(w + o)));
    }
    for (; d < D; d++) {
      const o = (<usize>d) << 2;
      store<f32>(or + o, (load<f32>(xr + o) * scale) * load<f32>(w + o));
    }
  }
}

/** out = a + b over `count` floats. */
export function add(out: usize, a: usize, b: usize, count: i32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < count; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** out = act(gate) · up; act 0 = relu², 1 = silu (f32(g / f32(1 + f32(exp(−g)))), exp in f64). */
export function gated_activation(out: usize, gate: usize, up: usize, act: i32, count: i32): void {
  let i = 0;
  if (act == 0) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= count; i += 4) {
      const o = (<usize>i) << 2;
      const g = v128.load(gate + o);
      const r = v128.and(g, f32x4.gt(g, zero)); // relu without touching -0/NaN semantics of max
      v128.store(out + o, f32x4.mul(f32x4.mul(r, r), v128.load(up + o)));
    }
    for (; i < count; i++) {
      const o = (<usize>i) << 2;
      const g = load<f32>(gate + o);
      store<f32>(out + o, (g > 0 ? g * g : <f32>0) * load<f32>(up + o));
    }
  } else {
    for (; i < count; i++) {
      const o = (<usize>i) << 2;
      const g = load<f32>(gate + o);
      const a = g / (<f32>1 + <f32>Math.exp(-<f64>g));
      store<f32>(out + o, a * load<f32>(up + o));
    }
  }
}

/**
 * In-place NEOX RoPE on x f32 [n, heads, headDim] with a host-built table cs [n, 2, half] (cos then sin, f32):
 * x0' = f32(x0·cos) − f32(x1·sin), x1' = f32(x0·sin) + f32(x1·cos) for i < half, partner i + half.
 */
export function rope(x: usize, cs: usize, n: i32, heads: i32, headDim: i32, half: i32): void {
  for (let i = 0; i < n; i++) {
    const cosb = cs + ((<usize>(i * 2 * half)) << 2);
    const sinb = cosb + ((<usize>half) << 2);
    for (let h = 0; h < heads; h++) {
      const base = x + ((<usize>((i * heads + h) * headDim)) << 2);
      const hi = base + ((<usize>half) << 2);
      let j = 0;
      for (; j + 4 <= half; j += 4) {
        const o = (<usize>j) << 2;
        const x0 = v128.load(base + o);
        const x1 = v128.load(hi + o);
        const c = v128.load(cosb + o);
        const s = v128.load(sinb + o);
        v128.store(base + o, f32x4.sub(f32x4.mul(x0, c), f32x4.mul(x1, s)));
        v128.store(hi + o, f32x4.add(f32x4.mul(x0, s), f32x4.mul(x1, c)));
      }
      for (; j < half; j++) {
        const o = (<usize>j) << 2;
        const x0 = load<f32>(base + o);
        const x1 = load<f32>(hi + o);
        const c = load<f32>(cosb + o);
        const s = load<f32>(sinb + o);
        store<f32>(base + o, x0 * c - x1 * s);
        store<f32>(hi + o, x0 * s + x1 * c);
      }
    }
  }
}

/** out[r] = index of the first maximum of logits row r (NaN never wins). */
export function argmax(out: usize, logits: usize, V: i32, rows: i32): void {
  for (let r = 0; r < rows; r++) {
    const lr = logits + ((<usize>r * <usize>V) << 2);
    let best = 0;
    let bestV = -Infinity;
    for (let v = 0; v < V; v++) {
      const x = load<f32>(lr + ((<usize>v) << 2));
      if (x > bestV) {
        bestV = x;
        best = v;
      }
    }
    store<i32>(out + ((<usize>r) << 2), best);
  }
}
