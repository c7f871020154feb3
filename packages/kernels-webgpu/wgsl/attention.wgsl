// Causal GQA attention, one workgroup per (query head, token), three passes as the reference: max of the scores,
// Σ exp, then p_t = f32(e_t · f32(1/Σ)) (rounded to f16 when asked) times V. Scores are kept in workgroup memory
// when the span fits (TILE positions), else recomputed per pass. HALF: f16 cache (u32 pairs), q rounded to f16.
// P: [0] H, [1] Hkv, [2] Dh, [3] context, [4] scale (f32), [5] round probs, [8 + 2i] position, [9 + 2i] slot.
@group(0) @binding(1) var<storage, read> Qr: array<f32>;
//#if HALF
@group(0) @binding(2) var<storage, read> KC: array<u32>;
@group(0) @binding(3) var<storage, read> VC: array<u32>;
//#else
@group(0) @binding(2) var<storage, read> KC: array<f32>;
@group(0) @binding(3) var<storage, read> VC: array<f32>;
//#endif
@group(0) @binding(4) var<storage, read_write> O: array<f32>;

const WG: u32 = 128u;
const TILE: u32 = 2048u;
var<workgroup> qs: array<f32, 256>;
var<workgroup> red: array<f32, WG>;
var<workgroup> red16: array<f32, 16>;
var<workgroup> sc: array<f32, TILE>;

fn k_dot(base: u32, Dh: u32) -> f32 {
  var dot = 0.0;
//#if HALF
  for (var d = 0u; d < Dh; d = d + 2u) {
    let kv = unpack2x16float(KC[(base + d) / 2u]);
    dot = dot + qs[d] * kv.x + qs[d + 1u] * kv.y;
  }
//#else
  for (var d = 0u; d < Dh; d = d + 1u) { dot = dot + qs[d] * KC[base + d]; }
//#endif
  return dot;
}

fn v_at(i: u32) -> f32 {
//#if HALF
  let pair = unpack2x16float(VC[i / 2u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
//#else
  return VC[i];
//#endif
}

// Two levels (16 × 8): few barriers, as each costs a lot on CPU emulation (SwiftShader).
fn reduce_max(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  if (t < 16u) {
    var a = red[8u * t];
    for (var i = 1u; i < 8u; i = i + 1u) { let b = red[8u * t + i]; a = max(a, b); }
    red16[t] = a;
  }
  workgroupBarrier();
  var a = red16[0];
  for (var i = 1u; i < 16u; i = i + 1u) { let b = red16[i]; a = max(a, b); }
  workgroupBarrier();
  return a;
}

// Two levels (16 × 8): few barriers, as each costs a lot on CPU emulation (SwiftShader).
fn reduce_sum(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  if (t < 16u) {
    var a = red[8u * t];
    for (var i = 1u; i < 8u; i = i + 1u) { let b = red[8u * t + i]; a = a + b; }
    red16[t] = a;
  }
  workgroupBarrier();
  var a = red16[0];
  for (var i = 1u; i < 16u; i = i + 1u) { let b = red16[i]; a = a + b; }
  workgroupBarrier();
  return a;
}

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let H = pu(0u);
  let Hkv = pu(1u);
  let Dh = pu(2u);
  let context = pu(3u);
  let scale = pf(4u);
  let roundProbs = pu(5u) == 1u;
  let h = wg.x;
  let i = wg.y;
  let pos = pu(8u + 2u * i);
  let slot = pu(9u + 2u * i);
  let kvh = h / (H / Hkv);
  let span = pos + 1u;
  let cached = span <= TILE;
  for (var d = t; d < Dh; d = d + WG) {
    let q = Qr[(i * H + h) * Dh + d];
//#if HALF
    qs[d] = round_f16(q);
//#else
    qs[d] = q;
//#endif
  }
  workgroupBarrier();
  let row0 = slot * context;
  var m = -0x1.fffffep+127f; // scores are finite
  for (var p = t; p < span; p = p + WG) {
    let w = k_dot(((row0 + p) * Hkv + kvh) * Dh, Dh) * scale;
    if (cached) { sc[p] = w; }
    m = max(m, w);
  }
  let mx = reduce_max(t, m);
  var sum = 0.0;
  for (var p = t; p < span; p = p + WG) {
    var w: f32;
    if (cached) { w = sc[p]; } else { w = k_dot(((row0 + p) * Hkv + kvh) * Dh, Dh) * scale; }
    let e = exp(w - mx);
    if (cached) { sc[p] = e; }
    sum = sum + e;
  }
  let inv = div_exact(1.0, reduce_sum(t, sum)); // correctly rounded, as f32(1/Σ)
  var acc0 = 0.0;
  var acc1 = 0.0;
  for (var b = 0u; b < span; b = b + TILE) {
    let cnt = min(TILE, span - b);
    for (var p = t; p < cnt; p = p + WG) {
      var e: f32;
      if (cached) { e = sc[p]; } else { e = exp(k_dot(((row0 + b + p) * Hkv + kvh) * Dh, Dh) * scale - mx); }
      var pr = e * inv;
      if (roundProbs) { pr = round_f16(pr); }
      sc[p] = pr;
    }
    workgroupBarrier();
    for (var p = 0u; p < cnt; p = p + 1u) {
      let vb = ((row0 + b + p) * Hkv + kvh) * Dh;
      let pr = sc[p];
      if (t < Dh) { acc0 = acc0 + pr * v_at(vb + t); }
      if (t + WG < Dh) { acc1 = acc1 + pr * v_at(vb + t + WG); }
    }
    workgroupBarrier();
  }
  let ob = (i * H + h) * Dh;
  if (t < Dh) { O[ob + t] = acc0; }
  if (t + WG < Dh) { O[ob + t + WG] = acc1; }
}
