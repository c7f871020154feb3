// quantizeActs, per_block256 (ggml quantize_row_q8_K_ref). One workgroup per (256-block, row), one element each.
// P: [0] K, [1] q words per row.
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Q: array<u32>;
@group(0) @binding(3) var<storage, read_write> S: array<f32>;

var<workgroup> rv: array<f32, 256>;
var<workgroup> ri: array<u32, 256>;
var<workgroup> rv16: array<f32, 16>;
var<workgroup> ri16: array<u32, 16>;

// Larger value wins, equal values go to the lower index.
fn better(v: f32, i: u32, bv: f32, bi: u32) -> bool { return v > bv || (v == bv && i < bi); }
var<workgroup> qv: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let g = wg.x;
  let row = wg.y;
  let K = pu(0u);
  let words = pu(1u);
  let G = K / 256u;
  let x = X[row * K + g * 256u + t];
  rv[t] = abs(x);
  ri[t] = t;
  workgroupBarrier();
  // The first element of largest magnitude: larger wins, ties go to the lower index.
  // Two levels of 16 (two barriers: each costs a lot on CPU emulation, SwiftShader).
  if (t < 16u) {
    var bv = rv[16u * t];
    var bi = ri[16u * t];
    for (var i = 1u; i < 16u; i = i + 1u) {
      if (better(rv[16u * t + i], ri[16u * t + i], bv, bi)) { bv = rv[16u * t + i]; bi = ri[16u * t + i]; }
    }
    rv16[t] = bv;
    ri16[t] = bi;
  }
  workgroupBarrier();
  var bestV = rv16[0];
  var bestI = ri16[0];
  for (var i = 1u; i < 16u; i = i + 1u) {
    if (better(rv16[i], ri16[i], bestV, bestI)) { bestV = rv16[i]; bestI = ri16[i]; }
  }
  let amax = bestV;
  let m = X[row * K + g * 256u + bestI];
  var q = 0;
  if (amax > 0.0) {
    let mag = div_exact(127.0, amax);
    let iscale = select(mag, -mag, m > 0.0); // f32(-127 / m)
    q = i32(min(127.0, max(-128.0, round(iscale * x))));
    if (t == 0u) {
      let d = div_exact(1.0, mag);
      S[row * G + g] = select(d, -d, m > 0.0); // f32(1 / iscale)
    }
  } else if (t == 0u) {
    S[row * G + g] = 0.0;
  }
  qv[t] = u32(q) & 0xffu;
  workgroupBarrier();
  if (t < 64u) {
    Q[row * words + g * 64u + t] = qv[4u * t] | (qv[4u * t + 1u] << 8u) | (qv[4u * t + 2u] << 16u) | (qv[4u * t + 3u] << 24u);
  }
}
